/* Handoff demo (the capture-by-reference pattern): the producer (main
 * thread) allocates MSGS message buffers in make_msg() and hands each to a
 * consumer thread, which fills it (first write) and reads it back. After the
 * consumer is done, the producer reports whose heap each buffer belongs to,
 * whether its memory was already resident when it was handed over (i.e.
 * touched by the producer), and which NUMA node backs it.
 *
 * Run under LD_PRELOAD=libloci_alloc.so:
 *   handoff          plain malloc; with LOCI_PLACEMENT=plan.json naming
 *                    make_msg, the plan's policy applies
 *   handoff for      loci_malloc_for(consumer's heap) in make_msg_for()
 * Prints one line:
 *   mode=M msgs=N producer_heap=A consumer_heap=B consumer_pool=C other=D
 *   untouched_at_handoff=U node0=K node_unknown=X checksum=S
 * Exit status 2 when not running under loci-alloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSGS 16
#define MSG_SIZE 4096 /* one size class = one OS page per block */

static void *(*heap_current)(void);
static void *(*malloc_for)(void *, size_t);
static void *(*heap_of)(void *);
static void *(*consumer_pool)(void);
static int (*node_of)(const void *);
static int (*is_resident)(const void *);

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char *queue[MSGS];
static int queued, done;
static void *consumer_heap;
static unsigned long checksum;

static void *consumer(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  consumer_heap = heap_current();
  pthread_cond_broadcast(&cv);
  for (int i = 0; i < MSGS; i++) {
    while (queued <= i) pthread_cond_wait(&cv, &mu);
    char *m = queue[i];
    pthread_mutex_unlock(&mu);
    memset(m, 'a' + i % 26, MSG_SIZE); /* the first write: the consumer's */
    for (int j = 0; j < MSG_SIZE; j += 512) checksum += (unsigned char)m[j];
    pthread_mutex_lock(&mu);
  }
  done = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* The allocation site a placement plan names. */
__attribute__((noinline)) char *make_msg(void) {
  char *p = malloc(MSG_SIZE);
  if (!p) abort();
  return p;
}

__attribute__((noinline)) char *make_msg_for(void *heap) {
  char *p = malloc_for(heap, MSG_SIZE);
  if (!p) abort();
  return p;
}

int main(int argc, char **argv) {
  int use_for = argc > 1 && strcmp(argv[1], "for") == 0;
  heap_current = (void *(*)(void))dlsym(RTLD_DEFAULT, "loci_heap_current");
  malloc_for = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "loci_malloc_for");
  heap_of = (void *(*)(void *))dlsym(RTLD_DEFAULT, "loci_heap_of");
  consumer_pool = (void *(*)(void))dlsym(RTLD_DEFAULT, "loci_consumer_pool");
  node_of = (int (*)(const void *))dlsym(RTLD_DEFAULT, "loci_node_of");
  is_resident = (int (*)(const void *))dlsym(RTLD_DEFAULT, "loci_is_resident");
  if (!heap_current || !malloc_for || !heap_of || !consumer_pool || !node_of || !is_resident) {
    fprintf(stderr, "handoff: not running under loci-alloc (LD_PRELOAD=libloci_alloc.so)\n");
    return 2;
  }
  void *producer_heap = heap_current();
  pthread_t t;
  pthread_create(&t, NULL, consumer, NULL);
  pthread_mutex_lock(&mu);
  while (!consumer_heap) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);

  char *msg[MSGS];
  int untouched = 0;
  for (int i = 0; i < MSGS; i++) {
    msg[i] = use_for ? make_msg_for(consumer_heap) : make_msg();
    if (is_resident(msg[i]) == 0) untouched++;
    pthread_mutex_lock(&mu);
    queue[i] = msg[i];
    queued = i + 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  pthread_mutex_lock(&mu);
  while (!done) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);

  int in_producer = 0, in_consumer = 0, in_pool = 0, other = 0, node0 = 0, unknown = 0;
  void *pool = consumer_pool();
  for (int i = 0; i < MSGS; i++) {
    void *h = heap_of(msg[i]);
    if (h == producer_heap) in_producer++;
    else if (h == consumer_heap) in_consumer++;
    else if (h == pool) in_pool++;
    else other++;
    int n = node_of(msg[i]);
    if (n == 0) node0++;
    else if (n < 0) unknown++;
  }
  pthread_join(t, NULL);
  for (int i = 0; i < MSGS; i++) free(msg[i]);
  printf("mode=%s msgs=%d producer_heap=%d consumer_heap=%d consumer_pool=%d other=%d "
         "untouched_at_handoff=%d node0=%d node_unknown=%d checksum=%lu\n",
         use_for ? "for" : "malloc", MSGS, in_producer, in_consumer, in_pool, other, untouched,
         node0, unknown, checksum);
  return 0;
}

/* xmalloc: producer/consumer (after xmalloc-test; written for loci). One
 * producer thread allocates COUNT objects of random size 16..272, writes
 * them, and passes them in batches of 256 through a mutex-protected ring
 * to a consumer thread, which reads and frees them: every free is a
 * cross-thread free.
 * With a third argument "for" and an allocator exporting loci_malloc_for /
 * loci_heap_current, the producer allocates each object *for* the consumer
 * (in its heap), so the consumer's frees are local.
 * Usage: xmalloc COUNT [for] */
#include "common.h"
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#define BATCH 256
#define RING 64
struct batch { char *obj[BATCH]; };
static struct batch ring[RING];
static long head, tail; /* produced, consumed batches */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long count;
static void *(*malloc_for)(void *, size_t);
static void *(*heap_current)(void);
static void *volatile consumer_heap;

static void *consumer(void *unused) {
  (void)unused;
  if (heap_current) consumer_heap = heap_current();
  unsigned long sum = 0;
  for (long got = 0; got < count; got += BATCH) {
    pthread_mutex_lock(&mu);
    while (tail == head) pthread_cond_wait(&cv, &mu);
    struct batch b = ring[tail % RING];
    tail++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < BATCH; i++) {
      sum += (unsigned char)b.obj[i][0];
      free(b.obj[i]);
    }
  }
  return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv) {
  count = arg(argc, argv, 1, 4000000) / BATCH * BATCH;
  if (argc > 2 && strcmp(argv[2], "for") == 0) {
    malloc_for = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "loci_malloc_for");
    heap_current = (void *(*)(void))dlsym(RTLD_DEFAULT, "loci_heap_current");
    if (!malloc_for || !heap_current) die("xmalloc for: the allocator has no loci_malloc_for");
  }
  pthread_t c;
  pthread_create(&c, NULL, consumer, NULL);
  if (malloc_for)
    while (!consumer_heap) sched_yield();
  uint64_t seed = 42;
  for (long made = 0; made < count; made += BATCH) {
    struct batch b;
    for (int i = 0; i < BATCH; i++) {
      size_t n = 16 + rnd(&seed) % 257;
      char *p = malloc_for ? malloc_for(consumer_heap, n) : malloc(n);
      if (!p) die("malloc failed");
      memset(p, (int)(i & 0x7f), n);
      b.obj[i] = p;
    }
    pthread_mutex_lock(&mu);
    while (head - tail == RING) pthread_cond_wait(&cv, &mu);
    ring[head % RING] = b;
    head++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  void *r;
  pthread_join(c, &r);
  printf("xmalloc count=%ld%s check=%lu\n", count, malloc_for ? " for" : "", (unsigned long)(uintptr_t)r);
  return 0;
}

/* The handoff (capture-by-reference) pattern, sized for `loci sim` on a
 * 2-socket machine: the producer (main thread) allocates each message in
 * make_msg() and writes its 64-byte header; a consumer thread receives it,
 * fills the body (its first write there) and keeps it; once all messages
 * have arrived it reads all of them PASSES times (one byte per cache line)
 * and frees them. MSGS x MSG_SIZE = 32 MiB, more than one socket's L3 on
 * the Xeon Gold 6242 preset (22 MiB), so the reading passes go to DRAM and
 * the messages' NUMA node decides their cost.
 *
 * Messages are handed over one at a time, in lock step (the producer waits
 * for the consumer's acknowledgement before the next make_msg), so that a
 * trace of the program has the same accesses in the same order on every
 * run: the simulation of it is reproducible.
 *
 *   loci cc -O1 -g -pthread -o handoff_sim examples/alloc/handoff_sim.c
 *   loci profile --no-races --trace handoff.locitrace -- ./handoff_sim
 *   loci sim --machine presets/xeon-gold-6242-2s.toml --pin spread \
 *            --compare alloc-node,first-touch,consumer handoff.locitrace
 *
 * Prints "msgs=N size=S passes=P checksum=C". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSGS 512
#define MSG_SIZE (64 * 1024)
#define HEADER 64
#define PASSES 3

struct msg {
  unsigned long seq, len; /* the header: written by the producer */
  char pad[HEADER - 2 * sizeof(unsigned long)];
  char body[MSG_SIZE - HEADER]; /* written first by the consumer */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct msg *slot; /* the message being handed over, or NULL */
static int taken;        /* the consumer has taken the message in `slot` */
static unsigned long checksum;

static void *consumer(void *arg) {
  (void)arg;
  static struct msg *kept[MSGS];
  for (int i = 0; i < MSGS; i++) {
    pthread_mutex_lock(&mu);
    while (!slot) pthread_cond_wait(&cv, &mu);
    struct msg *m = slot;
    slot = NULL;
    taken = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    memset(m->body, (int)(m->seq & 0x7f), sizeof m->body);
    kept[i] = m;
  }
  for (int p = 0; p < PASSES; p++)
    for (int i = 0; i < MSGS; i++)
      for (size_t j = 0; j < sizeof kept[i]->body; j += 64) checksum += (unsigned char)kept[i]->body[j];
  for (int i = 0; i < MSGS; i++) free(kept[i]);
  return NULL;
}

/* The allocation site (the one a placement plan would name). */
__attribute__((noinline)) struct msg *make_msg(unsigned long seq) {
  struct msg *m = malloc(sizeof *m);
  if (!m) abort();
  m->seq = seq;
  m->len = sizeof m->body;
  return m;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, consumer, NULL);
  for (int i = 0; i < MSGS; i++) {
    struct msg *m = make_msg((unsigned long)i);
    pthread_mutex_lock(&mu);
    slot = m;
    taken = 0;
    pthread_cond_broadcast(&cv);
    while (!taken) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
  }
  pthread_join(t, NULL);
  printf("msgs=%d size=%d passes=%d checksum=%lu\n", MSGS, MSG_SIZE, PASSES, checksum);
  return 0;
}

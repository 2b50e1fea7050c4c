/* larson: server-like churn with thread turnover (after Larson & Krishnan's
 * benchmark; written for loci). T threads each own a slice of SLOTS slots
 * holding objects of random size 16..1040; each replaces random slots ROUNDS
 * times, then exits and hands its slice (with the live objects it allocated)
 * to a new thread, for EPOCHS generations. So objects are freed by threads
 * other than the (now dead) ones that allocated them.
 * Usage: larson THREADS ROUNDS EPOCHS */
#include "common.h"
#include <pthread.h>

#define SLOTS 2000
struct slice {
  char *slot[SLOTS];
  uint64_t seed;
  long rounds;
  unsigned long sum;
};

static void *worker(void *arg) {
  struct slice *s = arg;
  for (long i = 0; i < s->rounds; i++) {
    uint64_t r = rnd(&s->seed);
    size_t k = r % SLOTS;
    size_t n = 16 + ((r >> 24) % 1025);
    if (s->slot[k]) s->sum += (unsigned char)s->slot[k][0];
    free(s->slot[k]);
    char *p = malloc(n);
    if (!p) die("malloc failed");
    p[0] = (char)r;
    p[n - 1] = 1;
    s->slot[k] = p;
  }
  return NULL;
}

int main(int argc, char **argv) {
  long threads = arg(argc, argv, 1, 2);
  long rounds = arg(argc, argv, 2, 200000);
  long epochs = arg(argc, argv, 3, 10);
  if (threads < 1 || threads > 64) die("1..64 threads");
  struct slice *sl = calloc(threads, sizeof *sl);
  if (!sl) die("out of memory");
  for (long i = 0; i < threads; i++) {
    sl[i].seed = 0x1234567ULL * (i + 1);
    sl[i].rounds = rounds;
  }
  pthread_t t[64];
  for (long e = 0; e < epochs; e++) {
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, &sl[(i + e) % threads]);
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
  }
  unsigned long sum = 0;
  for (long i = 0; i < threads; i++) {
    sum += sl[i].sum;
    for (int k = 0; k < SLOTS; k++) free(sl[i].slot[k]);
  }
  free(sl);
  printf("larson threads=%ld rounds=%ld epochs=%ld check=%lu\n", threads, rounds, epochs, sum);
  return 0;
}

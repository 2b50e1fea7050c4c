/* mstress: object migration between threads with mixed sizes (after
 * mimalloc-bench's mstress; written for loci). Rounds of T threads share
 * one array of SLOTS objects; each thread replaces random slots with
 * objects of random size (mostly 8..264 bytes, 1 in 64 up to 64 KiB,
 * 1 in 2048 up to 1 MiB), freeing whatever another thread put there.
 * Slots are swapped with an atomic exchange.
 * Usage: mstress THREADS OPS_PER_THREAD ROUNDS */
#include "common.h"
#include <pthread.h>
#include <string.h>

#define SLOTS 8192
static char *_Atomic slot[SLOTS];
static long ops;

static void *worker(void *arg) {
  uint64_t seed = 0xABCDEFULL * ((uintptr_t)arg + 1);
  unsigned long sum = 0;
  for (long i = 0; i < ops; i++) {
    uint64_t r = rnd(&seed);
    size_t n;
    if ((r & 2047) == 0) n = 1 + (r >> 16) % (1 << 20);
    else if ((r & 63) == 0) n = 1 + (r >> 16) % (64 << 10);
    else n = 8 + (r >> 16) % 257;
    char *p = malloc(n);
    if (!p) die("malloc failed");
    p[0] = (char)r;
    p[n - 1] = 3;
    char *old = __atomic_exchange_n(&slot[(r >> 40) % SLOTS], p, __ATOMIC_ACQ_REL);
    if (old) {
      sum += (unsigned char)old[0];
      free(old);
    }
  }
  return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv) {
  long threads = arg(argc, argv, 1, 2);
  ops = arg(argc, argv, 2, 300000);
  long rounds = arg(argc, argv, 3, 5);
  if (threads < 1 || threads > 64) die("1..64 threads");
  pthread_t t[64];
  unsigned long sum = 0;
  for (long e = 0; e < rounds; e++) {
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + e * threads));
    for (long i = 0; i < threads; i++) {
      void *r;
      pthread_join(t[i], &r);
      sum += (uintptr_t)r;
    }
  }
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
  printf("mstress threads=%ld ops=%ld rounds=%ld check=%lu\n", threads, ops, rounds, sum);
  return 0;
}

/* alloc-test: small-object churn (after mimalloc-bench's alloc-test and
 * glibc-simple/glibc-thread). Each of T threads keeps a working set of
 * SLOTS objects of random size 8..1032 bytes and replaces a random one
 * OPS times, writing the first and last byte of each new object.
 * Usage: alloc-test THREADS OPS_PER_THREAD */
#include "common.h"
#include <pthread.h>
#include <string.h>

#define SLOTS 4096
static long ops;

static void *worker(void *arg) {
  uint64_t seed = 0x9E3779B97F4A7C15ULL * ((uintptr_t)arg + 1);
  char **slot = calloc(SLOTS, sizeof *slot);
  size_t *len = calloc(SLOTS, sizeof *len);
  if (!slot || !len) die("out of memory");
  unsigned long sum = 0;
  for (long i = 0; i < ops; i++) {
    uint64_t r = rnd(&seed);
    size_t k = r % SLOTS;
    size_t n = 8 + ((r >> 20) % 1025);
    if (slot[k]) sum += (unsigned char)slot[k][len[k] - 1];
    free(slot[k]);
    char *p = malloc(n);
    if (!p) die("malloc failed");
    p[0] = (char)i;
    p[n - 1] = (char)(i >> 3);
    slot[k] = p;
    len[k] = n;
  }
  for (size_t k = 0; k < SLOTS; k++) free(slot[k]);
  free(slot);
  free(len);
  return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv) {
  long threads = arg(argc, argv, 1, 1);
  ops = arg(argc, argv, 2, 2000000);
  pthread_t t[64];
  if (threads < 1 || threads > 64) die("1..64 threads");
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
  unsigned long sum = 0;
  for (long i = 0; i < threads; i++) {
    void *r;
    pthread_join(t[i], &r);
    sum += (uintptr_t)r;
  }
  printf("alloc-test threads=%ld ops=%ld check=%lu\n", threads, ops, sum);
  return 0;
}

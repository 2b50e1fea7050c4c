/* cache-thrash: active false sharing (after Hoard's cache-thrash; written
 * for loci). Each thread ITER times allocates 8 bytes, writes it REPS times
 * and frees it. An allocator that hands two threads blocks of one cache
 * line makes their writes fight over it.
 * Usage: cache-thrash THREADS ITER REPS */
#include "common.h"
#include <pthread.h>

static long iter, reps;

static void *worker(void *arg) {
  (void)arg;
  for (long i = 0; i < iter; i++) {
    volatile char *p = malloc(8);
    if (!p) die("malloc failed");
    for (long r = 0; r < reps; r++) p[r & 7] = (char)(p[r & 7] + 1);
    free((void *)p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  long threads = arg(argc, argv, 1, 2);
  iter = arg(argc, argv, 2, 20000);
  reps = arg(argc, argv, 3, 2000);
  if (threads < 1 || threads > 64) die("1..64 threads");
  pthread_t t[64];
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
  for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
  printf("cache-thrash threads=%ld iter=%ld reps=%ld\n", threads, iter, reps);
  return 0;
}

/* cache-scratch: passive false sharing (after Hoard's cache-scratch;
 * written for loci). The main thread allocates one 8-byte object per
 * thread (so they are adjacent) and hands one to each thread, which frees
 * it and then ITER times allocates 8 bytes, writes it REPS times and frees
 * it. An allocator that reuses the freed neighbour block for the thread's
 * next objects makes threads write the same cache line.
 * Usage: cache-scratch THREADS ITER REPS */
#include "common.h"
#include <pthread.h>

static long iter, reps;

static void *worker(void *arg) {
  char *first = arg;
  free(first);
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
  char *obj[64];
  for (long i = 0; i < threads; i++) obj[i] = malloc(8);
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, obj[i]);
  for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
  printf("cache-scratch threads=%ld iter=%ld reps=%ld\n", threads, iter, reps);
  return 0;
}

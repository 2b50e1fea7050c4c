/* Shared helpers of loci-alloc's benchmarks (benches/alloc.sh): argument
 * parsing and a small, fast, per-thread pseudo-random generator, so that
 * every allocator sees exactly the same request sequence. */
#ifndef LOCI_BENCH_COMMON_H
#define LOCI_BENCH_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* xorshift64*: deterministic for a given seed. */
static inline uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static long arg(int argc, char **argv, int i, long dflt) {
  return argc > i ? strtol(argv[i], NULL, 10) : dflt;
}

static void die(const char *what) {
  fprintf(stderr, "%s\n", what);
  exit(2);
}
#endif

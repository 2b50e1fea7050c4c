/* realloc-grow: many buffers grown by realloc in small steps (a string
 * builder / vector push pattern; written for loci). BUFS buffers are grown
 * round-robin by 1..64 bytes per step to MAX bytes each, ROUNDS times.
 * Usage: realloc-grow ROUNDS BUFS MAX */
#include "common.h"
#include <string.h>

int main(int argc, char **argv) {
  long rounds = arg(argc, argv, 1, 20);
  long bufs = arg(argc, argv, 2, 64);
  long max = arg(argc, argv, 3, 256 * 1024);
  char **b = calloc(bufs, sizeof *b);
  size_t *len = calloc(bufs, sizeof *len);
  if (!b || !len) die("out of memory");
  uint64_t seed = 7;
  unsigned long sum = 0;
  for (long r = 0; r < rounds; r++) {
    int growing = 1;
    while (growing) {
      growing = 0;
      for (long i = 0; i < bufs; i++) {
        if ((long)len[i] >= max) continue;
        growing = 1;
        size_t n = len[i] + 1 + rnd(&seed) % 64;
        char *q = realloc(b[i], n);
        if (!q) die("realloc failed");
        q[n - 1] = (char)n;
        sum += (unsigned char)q[len[i] ? len[i] - 1 : 0];
        b[i] = q;
        len[i] = n;
      }
    }
    for (long i = 0; i < bufs; i++) {
      free(b[i]);
      b[i] = NULL;
      len[i] = 0;
    }
  }
  free(b);
  free(len);
  printf("realloc-grow rounds=%ld bufs=%ld max=%ld check=%lu\n", rounds, bufs, max, sum);
  return 0;
}

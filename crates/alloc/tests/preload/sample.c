/* A small program compiled by `cc` under LD_PRELOAD (and then run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    enum { N = 5000 };
    char **words = malloc(N * sizeof *words);
    for (int i = 0; i < N; i++) {
        words[i] = malloc(32);
        snprintf(words[i], 32, "w%d", (i * 7919) % N);
    }
    qsort(words, N, sizeof *words, cmp);
    long sum = 0;
    for (int i = 0; i < N; i++) {
        sum += (long)strlen(words[i]) * i;
        free(words[i]);
    }
    free(words);
    printf("%s %ld\n", "sum", sum);
    return 0;
}

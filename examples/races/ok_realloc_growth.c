/* loci-race-test: no race
 * Four threads each grow their own buffers with realloc (moving them, so
 * that the old blocks are freed and their memory goes to other threads'
 * allocations), then main reads every buffer after joining: no access is
 * concurrent with another thread's realloc of the same memory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define ROUNDS 2000
static long *bufs[T];
static size_t lens[T];
static void *grow(void *arg) {
    long id = (long)arg;
    long *b = NULL;
    size_t n = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t m = (size_t)(r % 97) + 1;
        long *nb = realloc(b, m * sizeof *nb);
        if (!nb)
            abort();
        b = nb;
        for (size_t i = n < m ? n : m; i < m; i++)
            b[i] = id * 1000 + (long)i;
        n = m;
        void *tmp = malloc((size_t)(r % 13) * 8 + 8);
        free(tmp);
    }
    bufs[id] = b;
    lens[id] = n;
    return NULL;
}
int main(void) {
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, grow, (void *)i);
    long sum = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        for (size_t j = 0; j < lens[i]; j++)
            sum += bufs[i][j];
        free(bufs[i]);
    }
    printf("%ld\n", sum);
    return 0;
}

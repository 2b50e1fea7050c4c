/* Per-thread counters packed into one cache line (false sharing). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define N 2000000
static void *work(void *arg) {
    volatile long *c = arg; /* every increment really goes to memory */
    for (long i = 0; i < N; i++)
        *c += 1;
    return NULL;
}
int main(void) {
    long *c = calloc(T, sizeof *c);
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, &c[i]);
    long s = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        s += c[i];
    }
    printf("%ld\n", s);
    free(c);
    return 0;
}

/* Capture by reference: main allocates a counter, one thread hammers it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 5000000
static void *bump(void *arg) {
    volatile long *c = arg; /* every increment really goes to memory */
    for (long i = 0; i < N; i++)
        *c += i & 3;
    return NULL;
}
int main(void) {
    long *c = calloc(1, sizeof *c);
    pthread_t t;
    pthread_create(&t, NULL, bump, c);
    pthread_join(t, NULL);
    printf("%ld\n", *c);
    free(c);
    return 0;
}

/* loci-race-test: race
 * One thread updates a counter atomically, another reads it plainly. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
static atomic_int go;
static void *add(void *arg) {
    int *c = arg;
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
    atomic_store_explicit(&go, 1, memory_order_relaxed);
    return NULL;
}
int main(void) {
    int *c = calloc(1, sizeof *c);
    pthread_t t;
    pthread_create(&t, NULL, add, c);
    while (!atomic_load_explicit(&go, memory_order_relaxed))
        ;
    int v = *c; /* plain read */
    pthread_join(t, NULL);
    printf("%d\n", v);
    free(c);
    return 0;
}

/* loci-race-test: race
 * A thread writes a global, then sets a flag with a *relaxed* store; main
 * spins on the flag with relaxed loads and reads the global: no
 * happens-before, although the write is always earlier in time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
static int data;
static atomic_int flag;
static void *writer(void *arg) {
    (void)arg;
    data = 42;
    atomic_store_explicit(&flag, 1, memory_order_relaxed);
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    while (!atomic_load_explicit(&flag, memory_order_relaxed))
        ;
    int v = data; /* RACE */
    pthread_join(t, NULL);
    printf("%d\n", v);
    return 0;
}

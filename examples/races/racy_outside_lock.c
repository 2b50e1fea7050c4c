/* loci-race-test: race
 * The writer updates the shared value after unlocking the mutex. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static atomic_int done;
static void *writer(void *arg) {
    long *v = arg;
    pthread_mutex_lock(&m);
    v[0] = 1;
    pthread_mutex_unlock(&m);
    v[1] = 2; /* outside the lock */
    atomic_store_explicit(&done, 1, memory_order_relaxed);
    return NULL;
}
int main(void) {
    long *v = calloc(2, sizeof *v);
    pthread_t t;
    pthread_create(&t, NULL, writer, v);
    while (!atomic_load_explicit(&done, memory_order_relaxed))
        ;
    pthread_mutex_lock(&m);
    long s = v[0] + v[1];
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    printf("%ld\n", s);
    free(v);
    return 0;
}

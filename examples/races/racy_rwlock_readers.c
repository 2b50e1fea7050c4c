/* loci-race-test: race
 * Two threads write shared data while holding the rwlock only for
 * reading: readers do not exclude (or order) each other. */
#include <pthread.h>
#include <stdio.h>
static pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t start;
static int shared;
static void *reader(void *arg) {
    (void)arg;
    pthread_barrier_wait(&start);
    pthread_rwlock_rdlock(&l);
    shared++; /* a write under a read lock */
    pthread_rwlock_unlock(&l);
    return NULL;
}
int main(void) {
    pthread_barrier_init(&start, NULL, 2);
    pthread_t a, b;
    pthread_create(&a, NULL, reader, NULL);
    pthread_create(&b, NULL, reader, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%d\n", shared >= 1);
    return 0;
}

/* loci-race-test: race
 * Each thread protects the shared counter with its own mutex. */
#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t ma = PTHREAD_MUTEX_INITIALIZER, mb = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *bump(void *arg) {
    pthread_mutex_t *m = arg;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(m);
        counter++;
        pthread_mutex_unlock(m);
    }
    return NULL;
}
int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, &ma);
    pthread_create(&b, NULL, bump, &mb);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%d\n", counter > 0);
    return 0;
}

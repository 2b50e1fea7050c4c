/* loci-race-test: no race
 * A counter protected by a pthread spinlock. */
#include <pthread.h>
#include <stdio.h>
static pthread_spinlock_t s;
static long counter;
static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        pthread_spin_lock(&s);
        counter++;
        pthread_spin_unlock(&s);
    }
    return NULL;
}
int main(void) {
    pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE);
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%ld\n", counter);
    pthread_spin_destroy(&s);
    return 0;
}

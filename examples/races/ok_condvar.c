/* loci-race-test: no race
 * A one-slot queue: producer and consumer hand heap messages over with a
 * mutex and two condition variables. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER, nonfull = PTHREAD_COND_INITIALIZER;
static int *slot;
static void *produce(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        int *msg = malloc(sizeof *msg);
        *msg = i;
        pthread_mutex_lock(&m);
        while (slot)
            pthread_cond_wait(&nonfull, &m);
        slot = msg;
        pthread_cond_signal(&nonempty);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, produce, NULL);
    long sum = 0;
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&m);
        while (!slot)
            pthread_cond_wait(&nonempty, &m);
        int *msg = slot;
        slot = NULL;
        pthread_cond_signal(&nonfull);
        pthread_mutex_unlock(&m);
        sum += *msg;
        free(msg);
    }
    pthread_join(t, NULL);
    printf("%ld\n", sum);
    return 0;
}

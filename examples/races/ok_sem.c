/* loci-race-test: no race
 * The producer writes, then posts; the consumer waits, then reads. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
static sem_t ready;
static void *produce(void *arg) {
    int *d = arg;
    for (int i = 0; i < 8; i++)
        d[i] = i * 3;
    sem_post(&ready);
    return NULL;
}
int main(void) {
    int *d = calloc(8, sizeof *d);
    sem_init(&ready, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, produce, d);
    while (sem_trywait(&ready) != 0)
        ;
    int s = 0;
    for (int i = 0; i < 8; i++)
        s += d[i];
    pthread_join(t, NULL);
    printf("%d\n", s);
    sem_destroy(&ready);
    free(d);
    return 0;
}

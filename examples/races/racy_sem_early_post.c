/* loci-race-test: race
 * The producer posts the semaphore *before* writing the data. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
static sem_t ready;
static void *produce(void *arg) {
    int *d = arg;
    sem_post(&ready);
    d[0] = 7;
    return NULL;
}
int main(void) {
    int *d = calloc(1, sizeof *d);
    sem_init(&ready, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, produce, d);
    sem_wait(&ready);
    int v = d[0];
    pthread_join(t, NULL);
    printf("%d\n", v == 7 || v == 0);
    sem_destroy(&ready);
    free(d);
    return 0;
}

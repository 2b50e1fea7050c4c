/* loci-race-test: no race
 * Four threads increment a heap counter under a mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *bump(void *arg) {
    long *c = arg;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&m);
        (*c)++;
        pthread_mutex_unlock(&m);
    }
    return NULL;
}
int main(void) {
    long *c = calloc(1, sizeof *c);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, bump, c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", *c);
    free(c);
    return 0;
}

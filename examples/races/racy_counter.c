/* loci-race-test: race
 * Two threads increment a heap counter without any synchronisation. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *bump(void *arg) {
    int *c = arg;
    for (int i = 0; i < 1000; i++)
        (*c)++;
    return NULL;
}
int main(void) {
    int *c = calloc(1, sizeof *c);
    pthread_t a, b;
    pthread_create(&a, NULL, bump, c);
    pthread_create(&b, NULL, bump, c);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("done\n");
    free(c);
    return 0;
}

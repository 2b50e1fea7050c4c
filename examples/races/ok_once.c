/* loci-race-test: no race
 * pthread_once initialises a shared table that every thread then reads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int *table;
static void init(void) {
    table = malloc(32 * sizeof *table);
    for (int i = 0; i < 32; i++)
        table[i] = i;
}
static void *use(void *arg) {
    long *out = arg;
    pthread_once(&once, init);
    for (int i = 0; i < 32; i++)
        *out += table[i];
    return NULL;
}
int main(void) {
    pthread_t t[4];
    long sums[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, use, &sums[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("%ld %ld\n", sums[0], sums[3]);
    free(table);
    return 0;
}

/* loci-race-test: no race
 * Threads update a shared counter only with atomic RMWs (relaxed). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
static void *add(void *arg) {
    atomic_long *c = arg;
    for (int i = 0; i < 1000; i++)
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
    return NULL;
}
int main(void) {
    atomic_long *c = malloc(sizeof *c);
    atomic_init(c, 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, add, c);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", atomic_load(c));
    free(c);
    return 0;
}

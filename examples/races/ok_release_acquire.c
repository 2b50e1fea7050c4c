/* loci-race-test: no race
 * Message passing: plain data published with a release store and read
 * after an acquire load of the flag. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
static atomic_int flag;
static int *msg;
static void *produce(void *arg) {
    (void)arg;
    msg = malloc(4 * sizeof *msg);
    for (int i = 0; i < 4; i++)
        msg[i] = i * i;
    atomic_store_explicit(&flag, 1, memory_order_release);
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, produce, NULL);
    while (!atomic_load_explicit(&flag, memory_order_acquire))
        ;
    int s = msg[0] + msg[1] + msg[2] + msg[3];
    pthread_join(t, NULL);
    printf("%d\n", s);
    free(msg);
    return 0;
}

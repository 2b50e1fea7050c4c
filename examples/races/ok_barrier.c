/* loci-race-test: no race
 * Phases separated by a barrier: each thread writes its slot, waits, then
 * reads its neighbour's; three rounds reuse the barrier. */
#include <pthread.h>
#include <stdio.h>
#define T 3
static int slot[T];
static long seen[T];
static pthread_barrier_t b;
static void *work(void *arg) {
    long id = (long)arg;
    for (int r = 0; r < 3; r++) {
        slot[id] = (int)(id + r);
        pthread_barrier_wait(&b);
        seen[id] += slot[(id + 1) % T];
        pthread_barrier_wait(&b);
    }
    return NULL;
}
int main(void) {
    pthread_barrier_init(&b, NULL, T);
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    printf("%ld %ld %ld\n", seen[0], seen[1], seen[2]);
    pthread_barrier_destroy(&b);
    return 0;
}

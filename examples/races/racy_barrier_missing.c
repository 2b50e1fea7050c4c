/* loci-race-test: race
 * Each thread writes its own slot and reads its neighbour's, but the
 * barrier that should separate the phases is only on one side. */
#include <pthread.h>
#include <stdio.h>
#define T 2
static int slot[T];
static int seen[T];
static pthread_barrier_t b;
static void *work(void *arg) {
    long id = (long)arg;
    if (id == 0)
        pthread_barrier_wait(&b);
    slot[id] = (int)id + 1;
    if (id == 1)
        pthread_barrier_wait(&b);
    seen[id] = slot[(id + 1) % T];
    return NULL;
}
int main(void) {
    pthread_barrier_init(&b, NULL, T);
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    /* seen[0] is ordered (2); seen[1] depends on the race (0 or 1). */
    printf("%d %d\n", seen[0], seen[1] <= 1);
    return 0;
}

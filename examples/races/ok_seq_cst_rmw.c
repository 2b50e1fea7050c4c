/* loci-race-test: no race
 * A ticket handed on with seq_cst exchange and fetch_add: each thread
 * waits for its turn, updates the plain log, and passes the turn on. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#define T 3
static atomic_int turn;
static int log_[T * 10];
static int n;
static void *work(void *arg) {
    long id = (long)arg;
    for (int r = 0; r < 10; r++) {
        while (atomic_load(&turn) % T != id)
            ;
        log_[n++] = (int)id;
        atomic_fetch_add(&turn, 1);
    }
    return NULL;
}
int main(void) {
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    printf("%d %d\n", n, log_[T * 10 - 1]);
    return 0;
}

/* Atomic counters: each thread bumps its own cache-line-padded atomic
 * counter (relaxed) and, every 64th time, a shared one (seq_cst). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define N 1000000
struct slot { _Atomic long n; char pad[56]; };
static struct slot *slots;
static _Atomic long shared;
static void *work(void *arg) {
    long id = (long)arg;
    for (long i = 0; i < N; i++) {
        atomic_fetch_add_explicit(&slots[id].n, 1, memory_order_relaxed);
        if ((i & 63) == 0)
            atomic_fetch_add(&shared, 1);
    }
    return NULL;
}
int main(void) {
    slots = aligned_alloc(64, T * sizeof *slots);
    for (int i = 0; i < T; i++)
        atomic_init(&slots[i].n, 0);
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    long s = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        s += atomic_load(&slots[i].n);
    }
    printf("%ld %ld\n", s, atomic_load(&shared));
    free(slots);
    return 0;
}

/* loci-race-test: no race
 * tsan: race
 * Message passing through fences: release fence + relaxed store, relaxed
 * load + acquire fence. Race-free in C11 (fence-fence synchronisation,
 * [atomics.fences]); ThreadSanitizer does not model fences (gcc says so:
 * -Wtsan) and reports a data race here. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
static int data;
static atomic_int flag;
static void *writer(void *arg) {
    (void)arg;
    data = 42;
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&flag, 1, memory_order_relaxed);
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    while (!atomic_load_explicit(&flag, memory_order_relaxed))
        ;
    atomic_thread_fence(memory_order_acquire);
    int v = data;
    pthread_join(t, NULL);
    printf("%d\n", v);
    return 0;
}

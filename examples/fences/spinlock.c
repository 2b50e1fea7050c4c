/* A test-and-test-and-set spinlock built from GCC's legacy
 * __sync_lock_test_and_set / __sync_lock_release, protecting a plain
 * (non-atomic) counter and a two-word invariant.  4 threads x ITERS.
 * Prints the totals; exits 1 if an increment was lost or the invariant
 * was seen broken. */
#include <pthread.h>
#include <stdio.h>
#include <sched.h>

#define THREADS 4
#define ITERS 20000

static volatile int lock;
static long counter;          /* protected by lock */
static long twin_a, twin_b;   /* protected by lock: always equal */
static long broken;

static void spin_lock(void)
{
    for (;;) {
        if (!__sync_lock_test_and_set(&lock, 1))
            return;
        while (lock)
            sched_yield();
    }
}

static void spin_unlock(void) { __sync_lock_release(&lock); }

__attribute__((noipa)) void critical(long i)
{
    spin_lock();
    if (twin_a != twin_b)
        broken++;
    counter++;
    twin_a += i;
    twin_b += i;
    spin_unlock();
}

static void *worker(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < ITERS; i++)
        critical(id);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i))
            return 2;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    long want_twin = 0;
    for (long i = 0; i < THREADS; i++)
        want_twin += i * ITERS;
    printf("spinlock: counter=%ld twin=%ld/%ld broken=%ld\n", counter, twin_a,
           twin_b, broken);
    if (counter != (long)THREADS * ITERS || twin_a != want_twin ||
        twin_b != want_twin || broken) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

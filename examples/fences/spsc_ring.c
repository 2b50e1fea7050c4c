/* A lock-free single-producer single-consumer ring buffer (Lamport/Linux
 * kfifo style): head written only by the producer with release, tail only
 * by the consumer with release; each side reads the other's index with
 * acquire.  The producer sends 1..N, the consumer checks order and sum.
 * Prints the sum; exits 1 on a lost, duplicated or reordered item. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#define N 100000
#define CAP 64

static long ring[CAP];
static atomic_ulong head, tail;

__attribute__((noipa)) int push(long v)
{
    unsigned long h = atomic_load_explicit(&head, memory_order_relaxed);
    unsigned long t = atomic_load_explicit(&tail, memory_order_acquire);
    if (h - t == CAP)
        return 0;
    ring[h % CAP] = v;
    atomic_store_explicit(&head, h + 1, memory_order_release);
    return 1;
}

__attribute__((noipa)) int pop(long *v)
{
    unsigned long t = atomic_load_explicit(&tail, memory_order_relaxed);
    unsigned long h = atomic_load_explicit(&head, memory_order_acquire);
    if (h == t)
        return 0;
    *v = ring[t % CAP];
    atomic_store_explicit(&tail, t + 1, memory_order_release);
    return 1;
}

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 1; i <= N; i++)
        while (!push(i))
            sched_yield();
    return NULL;
}

int main(void)
{
    pthread_t p;
    if (pthread_create(&p, NULL, producer, NULL))
        return 2;
    long sum = 0, bad = 0, expect = 1;
    while (expect <= N) {
        long v;
        if (!pop(&v)) {
            sched_yield();
            continue;
        }
        if (v != expect)
            bad++;
        sum += v;
        expect++;
    }
    pthread_join(p, NULL);
    printf("spsc_ring: items=%d sum=%ld bad=%ld\n", N, sum, bad);
    if (sum != (long)N * (N + 1) / 2 || bad) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

/* Kernel-style barrier macros, as much older C code has them:
 * smp_mb() a full barrier, smp_rmb()/smp_wmb() the load/store barriers
 * (`dmb ish`, `dmb ishld`, `dmb ishst` on aarch64; on x86-64 smp_mb() is a
 * locked instruction and smp_rmb()/smp_wmb() are compiler barriers only).
 * A writer passes messages to a reader with an acknowledgement; the reader
 * also samples two statistics words with a full barrier around every load
 * (a "to be safe" legacy habit).  Built so that `loci fences` has
 *  - a mergeable pair: smp_rmb(); smp_wmb(); back to back (the reader's
 *    "done reading, now write the ack") — one `dmb ish` with --merge;
 *  - a weakenable/redundant full barrier: the middle smp_mb() of the
 *    statistics sampler has only loads on both sides.
 * Prints the totals; exits 1 on a stale message or a torn sample. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#ifdef __aarch64__
#define smp_mb() __asm__ volatile("dmb ish" ::: "memory")
#define smp_rmb() __asm__ volatile("dmb ishld" ::: "memory")
#define smp_wmb() __asm__ volatile("dmb ishst" ::: "memory")
#else
#define smp_mb() __sync_synchronize()
#define smp_rmb() __asm__ volatile("" ::: "memory")
#define smp_wmb() __asm__ volatile("" ::: "memory")
#endif
#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

#define ROUNDS 20000

static long payload[4];
static long seq, ack;
static long stats_a, stats_b;   /* written by the writer, a then b */
static long stale, torn;

__attribute__((noipa)) void writer_round(long i)
{
    while (READ_ONCE(ack) != i - 1)
        sched_yield();
    smp_rmb();
    for (int k = 0; k < 4; k++)
        WRITE_ONCE(payload[k], i + k);
    smp_wmb();
    WRITE_ONCE(seq, i);
    WRITE_ONCE(stats_b, i);
    smp_wmb();
    WRITE_ONCE(stats_a, i);
}

/* legacy sampler: a is written after b, so reading a then b must give b >= a */
__attribute__((noipa)) void sample_stats(long *a, long *b)
{
    smp_mb();
    long x = READ_ONCE(stats_a);
    smp_mb();
    long y = READ_ONCE(stats_b);
    smp_mb();
    *a = x;
    *b = y;
}

__attribute__((noipa)) long reader_round(long i)
{
    while (READ_ONCE(seq) != i)
        sched_yield();
    smp_rmb();
    long s = 0;
    for (int k = 0; k < 4; k++) {
        long v = READ_ONCE(payload[k]);
        if (v != i + k)
            stale++;
        s += v;
    }
    smp_rmb();
    smp_wmb();
    WRITE_ONCE(ack, i);
    return s;
}

static void *writer(void *arg)
{
    (void)arg;
    for (long i = 1; i <= ROUNDS; i++)
        writer_round(i);
    return NULL;
}

static void *sampler(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        long a, b;
        sample_stats(&a, &b);
        if (b < a)
            torn++;
    }
    return NULL;
}

int main(void)
{
    pthread_t w, s;
    if (pthread_create(&w, NULL, writer, NULL) ||
        pthread_create(&s, NULL, sampler, NULL))
        return 2;
    long sum = 0;
    for (long i = 1; i <= ROUNDS; i++)
        sum += reader_round(i);
    pthread_join(w, NULL);
    pthread_join(s, NULL);
    long want = 4 * ((long)ROUNDS * (ROUNDS + 1) / 2) + 6L * ROUNDS;
    printf("kernel_style: rounds=%d sum=%ld stale=%ld torn=%ld\n", ROUNDS, sum,
           stale, torn);
    if (sum != want || stale || torn) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

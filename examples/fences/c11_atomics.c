/* C11 <stdatomic.h> in its three strengths:
 *  - seq_cst: a Peterson lock (needs store->load order: seq_cst stores and
 *    loads, plus an explicit seq_cst fence variant) guarding a plain counter;
 *  - acq_rel: a ticket counter with fetch_add(acq_rel) and message passing
 *    with store(release) / load(acquire);
 *  - relaxed accesses ordered by explicit atomic_thread_fence(release/acquire).
 * The lock functions are noipa: with only noinline, GCC 12's IPA sees that
 * they do not touch the plain counters and keeps those in registers across
 * the calls (the critical section then does nothing), whatever the atomics
 * inside say.
 * Prints the totals; exits 1 on a lost update or a stale message. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#define ITERS 10000

/* --- Peterson, seq_cst accesses ------------------------------------ */
static atomic_int want[2], turn;
static long peterson_counter;

__attribute__((noipa)) void peterson_lock(int me)
{
    int other = 1 - me;
    atomic_store(&want[me], 1);
    atomic_store(&turn, other);
    while (atomic_load(&want[other]) && atomic_load(&turn) == other)
        sched_yield();
}

__attribute__((noipa)) void peterson_unlock(int me)
{
    atomic_store(&want[me], 0);
}

/* --- Peterson, relaxed accesses + seq_cst fence ----------------------- */
static atomic_int want2[2], turn2;
static long peterson2_counter;

__attribute__((noipa)) void peterson2_lock(int me)
{
    int other = 1 - me;
    atomic_store_explicit(&want2[me], 1, memory_order_relaxed);
    atomic_exchange_explicit(&turn2, other, memory_order_acq_rel);
    atomic_thread_fence(memory_order_seq_cst);
    while (atomic_load_explicit(&want2[other], memory_order_relaxed) &&
           atomic_load_explicit(&turn2, memory_order_relaxed) == other)
        sched_yield();
    atomic_thread_fence(memory_order_acquire);
}

__attribute__((noipa)) void peterson2_unlock(int me)
{
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&want2[me], 0, memory_order_relaxed);
}

static void *peterson_worker(void *arg)
{
    int me = (int)(long)arg;
    for (int i = 0; i < ITERS; i++) {
        peterson_lock(me);
        peterson_counter++;
        peterson_unlock(me);
        peterson2_lock(me);
        peterson2_counter++;
        peterson2_unlock(me);
    }
    return NULL;
}

/* --- acq_rel: message passing with release/acquire and relaxed+fences - */
static long msg_payload[4];
static atomic_long msg_seq;         /* release/acquire */
static atomic_long ack_seq;
static long fmsg_payload[4];
static atomic_long fmsg_seq;        /* relaxed + fences */
static atomic_long fack_seq;
static atomic_long tickets;
static long stale;

__attribute__((noipa)) void post(long i)
{
    while (atomic_load_explicit(&ack_seq, memory_order_acquire) != i - 1)
        sched_yield();
    for (int k = 0; k < 4; k++)
        msg_payload[k] = i * (k + 1);
    atomic_store_explicit(&msg_seq, i, memory_order_release);
    atomic_fetch_add_explicit(&tickets, 1, memory_order_acq_rel);
}

__attribute__((noipa)) void fpost(long i)
{
    while (atomic_load_explicit(&fack_seq, memory_order_relaxed) != i - 1)
        sched_yield();
    atomic_thread_fence(memory_order_acquire);
    for (int k = 0; k < 4; k++)
        fmsg_payload[k] = i * (k + 2);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&fmsg_seq, i, memory_order_relaxed);
}

__attribute__((noipa)) long take(long i)
{
    while (atomic_load_explicit(&msg_seq, memory_order_acquire) != i)
        sched_yield();
    long s = 0;
    for (int k = 0; k < 4; k++) {
        if (msg_payload[k] != i * (k + 1))
            stale++;
        s += msg_payload[k];
    }
    atomic_store_explicit(&ack_seq, i, memory_order_release);
    return s;
}

__attribute__((noipa)) long ftake(long i)
{
    while (atomic_load_explicit(&fmsg_seq, memory_order_relaxed) != i)
        sched_yield();
    atomic_thread_fence(memory_order_acquire);
    long s = 0;
    for (int k = 0; k < 4; k++) {
        if (fmsg_payload[k] != i * (k + 2))
            stale++;
        s += fmsg_payload[k];
    }
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&fack_seq, i, memory_order_relaxed);
    return s;
}

static void *poster(void *arg)
{
    (void)arg;
    for (long i = 1; i <= ITERS; i++) {
        post(i);
        fpost(i);
    }
    return NULL;
}

int main(void)
{
    pthread_t p[2], q;
    for (long i = 0; i < 2; i++)
        if (pthread_create(&p[i], NULL, peterson_worker, (void *)i))
            return 2;
    if (pthread_create(&q, NULL, poster, NULL))
        return 2;
    long sum = 0, fsum = 0;
    for (long i = 1; i <= ITERS; i++) {
        sum += take(i);
        fsum += ftake(i);
    }
    pthread_join(q, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(p[i], NULL);
    long tri = (long)ITERS * (ITERS + 1) / 2;
    printf("c11_atomics: peterson=%ld peterson_fence=%ld msgsum=%ld fmsgsum=%ld "
           "tickets=%ld stale=%ld\n",
           peterson_counter, peterson2_counter, sum, fsum,
           atomic_load(&tickets), stale);
    if (peterson_counter != 2L * ITERS || peterson2_counter != 2L * ITERS ||
        sum != 10 * tri || fsum != 14 * tri || atomic_load(&tickets) != ITERS ||
        stale) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

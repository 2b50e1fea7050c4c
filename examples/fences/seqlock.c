/* A seqlock (Linux style): the writer bumps the sequence to odd, writes
 * the data words, bumps it to even, with release fences (smp_wmb); readers
 * retry while the sequence is odd or changed, with acquire fences
 * (smp_rmb).  Data words are relaxed atomics.  Every snapshot must be
 * consistent (all words equal to the same generation).
 * Prints the counts; exits 1 on a torn read. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define WRITES 20000
#define WORDS 4
#define READERS 2

static atomic_uint seq;
static atomic_long words[WORDS];
static atomic_int done;

__attribute__((noipa)) void write_gen(long g)
{
    unsigned s = atomic_load_explicit(&seq, memory_order_relaxed);
    atomic_store_explicit(&seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (int k = 0; k < WORDS; k++)
        atomic_store_explicit(&words[k], g * (k + 1), memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&seq, s + 2, memory_order_relaxed);
}

/* returns the generation read, or -1 on a torn snapshot */
__attribute__((noipa)) long read_gen(unsigned *retries)
{
    long v[WORDS];
    unsigned s0, s1;
    do {
        s0 = atomic_load_explicit(&seq, memory_order_acquire);
        if (s0 & 1) {
            ++*retries;
            continue;
        }
        for (int k = 0; k < WORDS; k++)
            v[k] = atomic_load_explicit(&words[k], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        s1 = atomic_load_explicit(&seq, memory_order_relaxed);
        if (s0 == s1)
            break;
        ++*retries;
    } while (1);
    for (int k = 0; k < WORDS; k++)
        if (v[k] != v[0] * (k + 1))
            return -1;
    return v[0];
}

static long torn, backwards;

static void *reader(void *arg)
{
    (void)arg;
    unsigned retries = 0;
    long last = 0, my_torn = 0, my_back = 0;
    while (!atomic_load_explicit(&done, memory_order_acquire)) {
        long g = read_gen(&retries);
        if (g < 0)
            my_torn++;
        else if (g < last)
            my_back++;
        else
            last = g;
    }
    long g = read_gen(&retries);
    if (g != WRITES)
        my_back++;
    __atomic_fetch_add(&torn, my_torn, __ATOMIC_RELAXED);
    __atomic_fetch_add(&backwards, my_back, __ATOMIC_RELAXED);
    return NULL;
}

int main(void)
{
    pthread_t r[READERS];
    for (int i = 0; i < READERS; i++)
        if (pthread_create(&r[i], NULL, reader, NULL))
            return 2;
    for (long g = 1; g <= WRITES; g++)
        write_gen(g);
    atomic_store_explicit(&done, 1, memory_order_release);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    printf("seqlock: writes=%d seq=%u torn=%ld backwards=%ld\n", WRITES,
           atomic_load(&seq), torn, backwards);
    if (atomic_load(&seq) != 2u * WRITES || torn || backwards) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

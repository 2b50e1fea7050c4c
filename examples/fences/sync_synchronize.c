/* Back-to-back __sync_synchronize(): the GCC wiki's peephole example.
 * A writer publishes a message with a full barrier issued twice (once by an
 * inlined "unlock" helper and once by the caller), the reader acknowledges
 * it the same way.  Built so that `loci fences` must find redundant
 * barriers: the second of each pair orders nothing the first did not.
 * Prints the checksum; exits 1 if a message was seen torn. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>

#define ROUNDS 20000

static volatile long data_a, data_b;
static volatile int flag;     /* 1: message ready, 0: consumed */
static long bad;

static inline void release_helper(void) { __sync_synchronize(); }

__attribute__((noipa)) void send(long v)
{
    while (flag != 0)
        sched_yield();
    __sync_synchronize();       /* acquire side of the ack */
    data_a = v;
    data_b = v * 3;
    release_helper();
    __sync_synchronize();       /* back to back with the helper's: redundant */
    flag = 1;
}

__attribute__((noipa)) long receive(void)
{
    while (flag != 1)
        sched_yield();
    __sync_synchronize();
    __sync_synchronize();       /* back to back: redundant */
    long a = data_a, b = data_b;
    if (b != a * 3)
        bad++;
    __sync_synchronize();
    flag = 0;
    return a;
}

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 1; i <= ROUNDS; i++)
        send(i);
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, producer, NULL))
        return 2;
    long sum = 0;
    for (long i = 1; i <= ROUNDS; i++) {
        long v = receive();
        if (v != i)
            bad++;
        sum += v;
    }
    pthread_join(t, NULL);
    long want = (long)ROUNDS * (ROUNDS + 1) / 2;
    printf("sync_synchronize: rounds=%d sum=%ld bad=%ld\n", ROUNDS, sum, bad);
    if (sum != want || bad) {
        printf("FAIL: want sum=%ld bad=0\n", want);
        return 1;
    }
    printf("OK\n");
    return 0;
}

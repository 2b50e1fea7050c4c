/* GCC's legacy __sync_* builtins (each a full barrier before and after):
 * fetch_and_add, add_and_fetch, sub_and_fetch, or_and_fetch,
 * val/bool_compare_and_swap, used back to back as old code does
 * (a statistics block updated with several __sync ops in a row).
 * Prints the totals; exits 1 on a wrong total. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 4
#define ITERS 20000

static long hits, bytes, live;
static unsigned long seen_mask;
static long max_seen;
static long cas_count;

static void update_max(long v)
{
    long cur = max_seen;
    for (;;) {
        if (v <= cur)
            return;
        long prev = __sync_val_compare_and_swap(&max_seen, cur, v);
        if (prev == cur)
            return;
        cur = prev;
    }
}

__attribute__((noipa)) void account(long id, long i)
{
    __sync_fetch_and_add(&hits, 1);
    __sync_add_and_fetch(&bytes, i & 15);
    __sync_add_and_fetch(&live, 1);
    __sync_sub_and_fetch(&live, 1);
    __sync_or_and_fetch(&seen_mask, 1UL << id);
    update_max(id * ITERS + i);
    long c;
    do
        c = cas_count;
    while (!__sync_bool_compare_and_swap(&cas_count, c, c + 1));
}

static void *worker(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < ITERS; i++)
        account(id, i);
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
    long want_bytes = 0;
    for (long i = 0; i < ITERS; i++)
        want_bytes += i & 15;
    want_bytes *= THREADS;
    printf("sync_builtins: hits=%ld bytes=%ld live=%ld mask=%lx max=%ld cas=%ld\n",
           hits, bytes, live, seen_mask, max_seen, cas_count);
    if (hits != (long)THREADS * ITERS || bytes != want_bytes || live != 0 ||
        seen_mask != (1UL << THREADS) - 1 ||
        max_seen != (long)(THREADS - 1) * ITERS + ITERS - 1 ||
        cas_count != (long)THREADS * ITERS) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

/* The Go runtime's publication pattern: allocate an object, zero it with
 * plain stores, issue the publication barrier (Go's publicationBarrier:
 * `DMB ISHST` on arm64; here __atomic_thread_fence(__ATOMIC_RELEASE), or
 * the literal `dmb ishst` on aarch64), then publish the pointer with a
 * plain store.  A consumer thread reads the pointer (address dependency,
 * memory_order_consume) and must never see a non-zeroed field.
 *
 * Two variants per round:
 *  - new_zeroed(): fresh memory that needs zeroing: the barrier is NEEDED
 *    (zeroing stores before it, the publishing store after it);
 *  - new_pair(): two allocations in a row where the second comes from
 *    memory already known to be zero (Go's needzero=false) so it issues no
 *    store: its barrier follows the first one with no store in between and
 *    is REDUNDANT.
 * Prints the totals; exits 1 if a published object was seen unzeroed. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 20000
#define FIELDS 6

struct obj {
    long f[FIELDS];
    long gen;
};

static struct obj heap[2 * ROUNDS];   /* dirty: needs zeroing */
static struct obj fresh[ROUNDS];      /* fresh from the OS: already zero */
static long next_free, next_fresh;
static struct obj *volatile slot_a, *volatile slot_b;
static volatile long consumed;

static inline void publication_barrier(void)
{
#ifdef __aarch64__
    __asm__ volatile("dmb ishst" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/* mallocgc with needzero: zeroing stores, then the barrier */
__attribute__((noipa)) struct obj *new_zeroed(void)
{
    struct obj *o = &heap[next_free++];
    for (int k = 0; k < FIELDS; k++)
        ((volatile long *)o->f)[k] = 0;
    ((volatile struct obj *)o)->gen = 0;
    publication_barrier();
    return o;
}

/* two objects reserved at once (one bump of each free index), the second
   from memory known to be zero: after the first barrier no store comes
   before the second one */
__attribute__((noipa)) void new_pair(struct obj **a, struct obj **b)
{
    struct obj *x = &heap[next_free++];
    struct obj *y = &fresh[next_fresh++];
    for (int k = 0; k < FIELDS; k++)
        ((volatile long *)x->f)[k] = 0;
    ((volatile struct obj *)x)->gen = 0;
    publication_barrier();
    /* y: needzero == false, nothing to store */
    publication_barrier();
    *a = x;
    *b = y;
}

static void *consumer(void *arg)
{
    (void)arg;
    long bad = 0;
    for (long r = 1; r <= ROUNDS; r++) {
        struct obj *a, *b;
        while ((a = __atomic_load_n(&slot_a, __ATOMIC_CONSUME)) == NULL)
            sched_yield();
        while ((b = __atomic_load_n(&slot_b, __ATOMIC_CONSUME)) == NULL)
            sched_yield();
        for (int k = 0; k < FIELDS; k++)
            bad += (a->f[k] != 0) + (b->f[k] != 0);
        bad += (a->gen != 0) + (b->gen != 0);
        slot_a = NULL;
        slot_b = NULL;
        __atomic_store_n(&consumed, r, __ATOMIC_RELEASE);
    }
    return (void *)bad;
}

int main(void)
{
    /* dirty the heap so that a missing zeroing store would be visible */
    memset(heap, 0x5a, sizeof heap);
    pthread_t c;
    if (pthread_create(&c, NULL, consumer, NULL))
        return 2;
    for (long r = 1; r <= ROUNDS; r++) {
        struct obj *a, *b;
        if (r & 1) {
            a = new_zeroed();
            b = new_zeroed();
        } else {
            new_pair(&a, &b);
        }
        slot_a = a;
        slot_b = b;
        while (__atomic_load_n(&consumed, __ATOMIC_ACQUIRE) != r)
            sched_yield();
    }
    void *bad;
    pthread_join(c, &bad);
    printf("publication: rounds=%d objects=%ld bad=%ld\n", ROUNDS,
           next_free + next_fresh, (long)bad);
    if ((long)bad != 0 || next_free + next_fresh != 2L * ROUNDS) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

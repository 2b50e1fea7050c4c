/* A Treiber stack (lock-free LIFO with compare-and-swap on the top
 * pointer).  Two pushers push disjoint sets of nodes while two poppers pop
 * concurrently; nodes are never re-pushed, so there is no ABA.  Every node
 * must be popped exactly once, with the payload written before its push.
 * Prints the totals; exits 1 on a lost or duplicated node or a bad payload. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#define PER_PUSHER 20000
#define PUSHERS 2
#define POPPERS 2
#define TOTAL (PER_PUSHER * PUSHERS)

struct node {
    struct node *next;
    long value;
    long check;
};

static struct node nodes[TOTAL];
static _Atomic(struct node *) top;
static atomic_long popped_total;
static unsigned char seen[TOTAL];
static atomic_long bad;

__attribute__((noipa)) void push(struct node *n)
{
    struct node *old = atomic_load_explicit(&top, memory_order_relaxed);
    do
        n->next = old;
    while (!atomic_compare_exchange_weak_explicit(&top, &old, n,
                                                  memory_order_release,
                                                  memory_order_relaxed));
}

__attribute__((noipa)) struct node *pop(void)
{
    struct node *old = atomic_load_explicit(&top, memory_order_acquire);
    while (old && !atomic_compare_exchange_weak_explicit(&top, &old, old->next,
                                                         memory_order_acq_rel,
                                                         memory_order_acquire))
        ;
    return old;
}

static void *pusher(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < PER_PUSHER; i++) {
        long k = id * PER_PUSHER + i;
        nodes[k].value = k;
        nodes[k].check = k * 7 + 1;
        push(&nodes[k]);
    }
    return NULL;
}

static void *popper(void *arg)
{
    (void)arg;
    while (atomic_load_explicit(&popped_total, memory_order_relaxed) < TOTAL) {
        struct node *n = pop();
        if (!n) {
            sched_yield();
            continue;
        }
        long k = n - nodes;
        if (n->value != k || n->check != k * 7 + 1 || seen[k])
            atomic_fetch_add(&bad, 1);
        seen[k] = 1;
        atomic_fetch_add_explicit(&popped_total, 1, memory_order_relaxed);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[PUSHERS + POPPERS];
    for (long i = 0; i < PUSHERS; i++)
        if (pthread_create(&t[i], NULL, pusher, (void *)i))
            return 2;
    for (long i = 0; i < POPPERS; i++)
        if (pthread_create(&t[PUSHERS + i], NULL, popper, NULL))
            return 2;
    for (int i = 0; i < PUSHERS + POPPERS; i++)
        pthread_join(t[i], NULL);
    long missing = 0;
    for (long k = 0; k < TOTAL; k++)
        missing += !seen[k];
    printf("treiber: pushed=%d popped=%ld missing=%ld bad=%ld empty=%d\n", TOTAL,
           atomic_load(&popped_total), missing, atomic_load(&bad),
           atomic_load(&top) == NULL);
    if (atomic_load(&popped_total) != TOTAL || missing || atomic_load(&bad) ||
        atomic_load(&top) != NULL) {
        printf("FAIL\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}

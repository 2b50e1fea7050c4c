/* Exercises the C ABI of libloci_alloc.so under LD_PRELOAD. Prints "ok" and
 * exits 0 when every check passes; prints the failing check otherwise. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { printf("FAILED line %d: %s\n", __LINE__, #c); return 1; } } while (0)

typedef void *(*heap_current_t)(void);
typedef void *(*malloc_for_t)(void *, size_t);
typedef void *(*malloc_on_node_t)(int, size_t);

static heap_current_t heap_current;
static malloc_for_t malloc_for;
static void *volatile handed;
static void *volatile consumer_heap;
static pthread_barrier_t bar;

static void *consumer(void *arg) {
    (void)arg;
    consumer_heap = heap_current();
    pthread_barrier_wait(&bar);     /* heap published */
    pthread_barrier_wait(&bar);     /* object handed over */
    char *p = handed;
    int ok = strcmp(p, "for the consumer") == 0;
    free(p);                        /* a local free for this thread */
    return ok ? arg : (void *)1;
}

static void *churn(void *arg) {
    void **slots = arg;
    for (int i = 0; i < 20000; i++) {
        int k = i % 64;
        free(slots[k]);
        slots[k] = malloc((size_t)(i % 3000) + 1);
        if (!slots[k]) return (void *)1;
        memset(slots[k], i & 0xff, (size_t)(i % 3000) + 1);
    }
    return NULL;
}

int main(void) {
    heap_current = (heap_current_t)dlsym(RTLD_DEFAULT, "loci_heap_current");
    malloc_for = (malloc_for_t)dlsym(RTLD_DEFAULT, "loci_malloc_for");
    malloc_on_node_t on_node = (malloc_on_node_t)dlsym(RTLD_DEFAULT, "loci_malloc_on_node");
    CHECK(heap_current && malloc_for && on_node);

    errno = 0;
    CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc((size_t)1 << 62) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    CHECK(reallocarray(NULL, SIZE_MAX / 2, 3) == NULL);

    unsigned char *z = calloc(1000, 10);
    CHECK(z);
    for (int i = 0; i < 10000; i++) CHECK(z[i] == 0);
    free(z);

    /* calloc of recycled small blocks and of large (fresh mapping) ones. */
    for (size_t sz = 64; sz <= ((size_t)1 << 21); sz *= 4) {
        unsigned char *d = malloc(sz);
        CHECK(d);
        memset(d, 0xee, sz);
        free(d);
        unsigned char *c = calloc(sz, 1);
        CHECK(c);
        for (size_t i = 0; i < sz; i++) CHECK(c[i] == 0);
        free(c);
    }

    char *s = malloc(10);
    strcpy(s, "abcdefghi");
    s = realloc(s, 100000);
    CHECK(s && strcmp(s, "abcdefghi") == 0);
    CHECK(malloc_usable_size(s) >= 100000);
    s = realloc(s, 20);
    CHECK(s && strcmp(s, "abcdefghi") == 0);
    free(s);

    for (size_t a = 8; a <= ((size_t)1 << 23); a <<= 1) {
        void *p = NULL;
        CHECK(posix_memalign(&p, a, 100) == 0 && ((uintptr_t)p % a) == 0);
        free(p);
        p = aligned_alloc(a, a * 2);
        CHECK(p && ((uintptr_t)p % a) == 0);
        free(p);
        p = memalign(a, 3);
        CHECK(p && ((uintptr_t)p % a) == 0);
        free(p);
    }
    void *bad = NULL;
    CHECK(posix_memalign(&bad, 24, 10) == EINVAL);
    void *v = valloc(5);
    CHECK(v && ((uintptr_t)v % 4096) == 0);
    free(v);
    v = pvalloc(5);
    CHECK(v && ((uintptr_t)v % 4096) == 0 && malloc_usable_size(v) >= 4096);
    free(v);
    CHECK(malloc_usable_size(NULL) == 0);

    char *n0 = on_node(0, 256);
    CHECK(n0);
    memset(n0, 1, 256);
    free(n0);

    /* alloc_for: this thread allocates on the consumer's heap. */
    pthread_t t;
    pthread_barrier_init(&bar, NULL, 2);
    CHECK(pthread_create(&t, NULL, consumer, NULL) == 0);
    pthread_barrier_wait(&bar);
    char *h = malloc_for(consumer_heap, 64);
    CHECK(h);
    strcpy(h, "for the consumer");
    handed = h;
    pthread_barrier_wait(&bar);
    void *res;
    pthread_join(t, &res);
    CHECK(res == NULL);

    /* Threads churning, and their blocks freed after they exit. */
    void *slots[4][64];
    memset(slots, 0, sizeof slots);
    pthread_t ts[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&ts[i], NULL, churn, slots[i]) == 0);
    for (int i = 0; i < 4; i++) { pthread_join(ts[i], &res); CHECK(res == NULL); }
    for (int i = 0; i < 4; i++) for (int k = 0; k < 64; k++) free(slots[i][k]);

    printf("ok\n");
    return 0;
}

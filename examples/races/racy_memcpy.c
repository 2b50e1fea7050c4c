/* loci-race-test: race
 * A thread fills a heap buffer with memcpy (inside libc, not instrumented
 * by the compiler) while main, ordered only by a relaxed flag, measures
 * it with strlen: the race is between two libc calls. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static atomic_int done;
static char *buf;
static void *fill(void *arg) {
    const char *src = arg;
    memcpy(buf, src, strlen(src) + 1);
    atomic_store_explicit(&done, 1, memory_order_relaxed);
    return NULL;
}
int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    buf = calloc(64, 1);
    char *src = strdup("hello, world");
    pthread_t t;
    pthread_create(&t, NULL, fill, src);
    while (!atomic_load_explicit(&done, memory_order_relaxed))
        ;
    size_t n = strlen(buf);
    pthread_join(t, NULL);
    printf("%zu\n", n);
    free(src);
    free(buf);
    return 0;
}

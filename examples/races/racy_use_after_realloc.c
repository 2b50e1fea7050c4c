/* loci-race-test: race
 * A thread keeps a pointer into a block that main then grows with realloc,
 * which moves it (the old block is freed): the thread's later write lands
 * in freed memory with nothing ordering it after the realloc. As
 * ThreadSanitizer: a "heap-use-after-free" whose previous access is the
 * realloc. The write is to the block's last int: its first 16 bytes hold
 * glibc's free-list link once freed, and writing them made the program
 * crash in its next malloc (its own undefined behaviour, timing-dependent
 * under qemu). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static int *p;
static void *late_writer(void *arg) {
    int *old = arg;
    usleep(50000);
    old[15] = 42;
    return NULL;
}
int main(void) {
    p = malloc(16 * sizeof *p);
    p[0] = 1;
    pthread_t t;
    pthread_create(&t, NULL, late_writer, p);
    int *keep = malloc(64); /* keeps the block from growing in place */
    p = realloc(p, 100000 * sizeof *p);
    pthread_join(t, NULL);
    printf("done %d\n", p[0]);
    free(keep);
    free(p);
    return 0;
}

/* loci-race-test: race
 * Main frees a block that a thread it started writes later, with nothing
 * ordering the free before the write: ThreadSanitizer reports a
 * "heap-use-after-free" whose previous access is the free. (A thread
 * using memory that it freed itself, or that was freed before it was
 * ordered after the free, is not a race and is reported by neither.)
 * The write is to the block's last int: its first 16 bytes hold glibc's
 * free-list link once freed, and writing them made the program crash in
 * its next malloc (its own undefined behaviour, timing-dependent under
 * qemu). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static int *p;
static void *late_writer(void *arg) {
    (void)arg;
    usleep(50000);
    p[15] = 42;
    return NULL;
}
int main(void) {
    p = malloc(16 * sizeof *p);
    p[0] = 1;
    pthread_t t;
    pthread_create(&t, NULL, late_writer, NULL);
    free(p);
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}

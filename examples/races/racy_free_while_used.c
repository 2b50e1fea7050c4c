/* loci-race-test: race
 * A thread writes a heap block; main frees it without joining the thread
 * first (a sleep is not synchronisation): the free races with the write,
 * reported as a data race whose current access is `free`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static long *p;
static void *writer(void *arg) {
    (void)arg;
    p[3] = 7;
    return NULL;
}
int main(void) {
    p = calloc(8, sizeof *p);
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    usleep(50000);
    free(p);
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}

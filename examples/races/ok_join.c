/* loci-race-test: no race
 * Main writes before create, the thread writes, main reads after join. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *work(void *arg) {
    int *v = arg;
    for (int i = 0; i < 16; i++)
        v[i] += i;
    return NULL;
}
int main(void) {
    int *v = malloc(16 * sizeof *v);
    for (int i = 0; i < 16; i++)
        v[i] = 1;
    pthread_t t;
    pthread_create(&t, NULL, work, v);
    pthread_join(t, NULL);
    int s = 0;
    for (int i = 0; i < 16; i++)
        s += v[i];
    printf("%d\n", s);
    free(v);
    return 0;
}

/* Thread-private buffers: each thread allocates, fills and sums its own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define LEN 4096
#define R 400
static long sums[T];
static void *work(void *arg) {
    long id = (long)arg;
    int *buf = malloc(LEN * sizeof *buf);
    long s = 0;
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < LEN; i++)
            buf[i] = i * (int)id + r;
        for (int i = 0; i < LEN; i++)
            s += buf[i];
    }
    sums[id] = s;
    free(buf);
    return NULL;
}
int main(void) {
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    long s = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        s += sums[i];
    }
    printf("%ld\n", s);
    return 0;
}

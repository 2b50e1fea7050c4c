/* Hoard's cache-scratch shape: main allocates one small object per
 * worker; each worker writes its own object many times. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define N 2000000
static void *work(void *arg) {
    volatile int *o = arg;
    for (int i = 0; i < N; i++)
        o[i & 7] += i;
    return NULL;
}
int main(void) {
    int *obj[T];
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        obj[i] = calloc(8, sizeof(int));
    for (int i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, obj[i]);
    long s = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        s += obj[i][0];
        free(obj[i]);
    }
    printf("%ld\n", s);
    return 0;
}

/* loci-race-test: no race
 * One writer (write lock) and three readers (read lock) of a table. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 64
static pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
static int *table;
static long sums[4];
static void *writer(void *arg) {
    (void)arg;
    for (int r = 0; r < 50; r++) {
        pthread_rwlock_wrlock(&l);
        for (int i = 0; i < N; i++)
            table[i] = r + i;
        pthread_rwlock_unlock(&l);
    }
    return NULL;
}
static void *reader(void *arg) {
    long id = (long)arg;
    for (int r = 0; r < 50; r++) {
        pthread_rwlock_rdlock(&l);
        for (int i = 0; i < N; i++)
            sums[id] += table[i];
        pthread_rwlock_unlock(&l);
    }
    return NULL;
}
int main(void) {
    table = calloc(N, sizeof *table);
    pthread_t w, r[3];
    pthread_create(&w, NULL, writer, NULL);
    for (long i = 0; i < 3; i++)
        pthread_create(&r[i], NULL, reader, (void *)(i + 1));
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(r[i], NULL);
    printf("%d\n", sums[1] >= 0 && sums[2] >= 0 && sums[3] >= 0);
    free(table);
    return 0;
}

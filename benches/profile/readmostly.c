/* A read-mostly shared table: readers under a read lock, a rare writer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define T 4
#define LEN 1024
#define R 1000
static pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
static int *table;
static long sums[T];
static void *work(void *arg) {
    long id = (long)arg;
    long s = 0;
    for (int r = 0; r < R; r++) {
        if (id == 0 && r % 50 == 0) {
            pthread_rwlock_wrlock(&l);
            table[r % LEN] += 1;
            pthread_rwlock_unlock(&l);
        }
        pthread_rwlock_rdlock(&l);
        for (int i = 0; i < LEN; i++)
            s += table[i];
        pthread_rwlock_unlock(&l);
    }
    sums[id] = s;
    return NULL;
}
int main(void) {
    table = calloc(LEN, sizeof *table);
    for (int i = 0; i < LEN; i++)
        table[i] = i;
    pthread_t t[T];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", sums[1] > 0);
    free(table);
    return 0;
}

/* loci-race-test: no race
 * A producer allocates and fills messages and hands them to a consumer
 * through a mutex-protected queue; the consumer reads and frees them. The
 * free comes after the producer's writes (through the mutex), and the
 * allocator hands the freed memory back to the producer for new messages,
 * which must not be taken for accesses racing with the earlier free. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define N 20000
#define Q 32
struct msg { long seq; long data[5]; };
static struct msg *q[Q];
static int head, tail, count;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER, nonfull = PTHREAD_COND_INITIALIZER;
static void *produce(void *arg) {
    (void)arg;
    for (long i = 0; i < N; i++) {
        struct msg *x = malloc(sizeof *x + (size_t)(i % 7) * 16);
        x->seq = i;
        for (int j = 0; j < 5; j++)
            x->data[j] = i + j;
        pthread_mutex_lock(&m);
        while (count == Q)
            pthread_cond_wait(&nonfull, &m);
        q[tail] = x;
        tail = (tail + 1) % Q;
        count++;
        pthread_cond_signal(&nonempty);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, produce, NULL);
    long sum = 0;
    for (long i = 0; i < N; i++) {
        pthread_mutex_lock(&m);
        while (count == 0)
            pthread_cond_wait(&nonempty, &m);
        struct msg *x = q[head];
        head = (head + 1) % Q;
        count--;
        pthread_cond_signal(&nonfull);
        pthread_mutex_unlock(&m);
        sum += x->seq + x->data[4];
        free(x);
    }
    pthread_join(t, NULL);
    printf("%ld\n", sum);
    return 0;
}

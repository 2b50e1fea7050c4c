/* Producer/consumer: heap messages through a mutex + condvar queue. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define M 200000
#define Q 64
struct msg { long seq; long data[6]; };
static struct msg *q[Q];
static int head, tail, count;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER, nonfull = PTHREAD_COND_INITIALIZER;
static void *produce(void *arg) {
    (void)arg;
    for (long i = 0; i < M; i++) {
        struct msg *x = malloc(sizeof *x);
        x->seq = i;
        for (int j = 0; j < 6; j++)
            x->data[j] = i * j;
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
    for (long i = 0; i < M; i++) {
        pthread_mutex_lock(&m);
        while (count == 0)
            pthread_cond_wait(&nonempty, &m);
        struct msg *x = q[head];
        head = (head + 1) % Q;
        count--;
        pthread_cond_signal(&nonfull);
        pthread_mutex_unlock(&m);
        for (int j = 0; j < 6; j++)
            sum += x->data[j];
        free(x);
    }
    pthread_join(t, NULL);
    printf("%ld\n", sum);
    return 0;
}

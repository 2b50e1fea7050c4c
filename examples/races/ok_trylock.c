/* loci-race-test: no race
 * As ok_mutex, taking the lock with pthread_mutex_trylock in a loop and a
 * recursive mutex created with pthread_mutex_init. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_mutex_t m;
static void *bump(void *arg) {
    long *c = arg;
    for (int i = 0; i < 500; i++) {
        while (pthread_mutex_trylock(&m) != 0)
            ;
        pthread_mutex_lock(&m); /* recursive */
        (*c)++;
        pthread_mutex_unlock(&m);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}
int main(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m, &a);
    long *c = calloc(1, sizeof *c);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, bump, c);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", *c);
    pthread_mutex_destroy(&m);
    free(c);
    return 0;
}

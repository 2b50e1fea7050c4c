/* loci-race-test: race
 * A thread increments a counter on main's stack while main does too,
 * unsynchronised: the report says where the memory is ("Location is
 * stack of main thread."), as ThreadSanitizer's does. */
#include <pthread.h>
#include <stdio.h>

static void *bump(void *arg) {
    int *x = arg;
    *x += 1;
    return NULL;
}

int main(void) {
    int local = 0;
    pthread_t t;
    pthread_create(&t, NULL, bump, &local);
    local += 2;
    pthread_join(t, NULL);
    printf("%d\n", local);
    return 0;
}

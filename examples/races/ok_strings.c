/* loci-race-test: no race
 * A thread builds a string with strcpy/strcat/memmove/memset; main reads
 * it with strlen/strcmp/strchr/memcmp only after joining. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void *build(void *arg) {
    char *b = arg;
    memset(b, 0, 128);
    strcpy(b, "loci");
    strcat(b, " races");
    memmove(b + 1, b, strlen(b) + 1);
    b[0] = '>';
    return NULL;
}
int main(void) {
    char *b = malloc(128);
    pthread_t t;
    pthread_create(&t, NULL, build, b);
    pthread_join(t, NULL);
    char copy[128];
    strncpy(copy, b, sizeof copy);
    printf("%s %zu %d %s %d\n", b, strlen(b), strcmp(b, copy), strchr(b, 'r'),
           memcmp(b, copy, 8));
    free(b);
    return 0;
}

/* Frees a block twice; under libloci_alloc.so this must abort with a
 * message naming the address. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    void *volatile p = malloc(48);
    void *volatile q = malloc(48);
    printf("%p\n", p);
    fflush(stdout);
    free(p);
    free(p);
    free(q);
    return 0;
}

/* Frees a pointer that malloc never returned, chosen by argv[1]; under
 * libloci_alloc.so each must abort with a message naming the address,
 * which this program prints first:
 *   interior  a pointer 16 bytes into a live 48-byte block
 *   medium    a pointer 8 bytes into a live 20 KiB block (medium page)
 *   stack     the address of a local variable (not the allocator's)
 *   header    the first byte after a small segment's header start (the
 *             segment of a live block, rounded down to 4 MiB, plus 16)
 *   medium-header  a pointer 32 KiB into the header of the medium
 *             segment of a live 32 KiB block (32 KiB below the start of
 *             the segment's first page: a whole number of blocks)
 *   chunk-end the address 4 MiB past the start of a live block's small
 *             segment (what the segment lookup maps to that segment's
 *             65th, never used, page descriptor)
 *   large     a pointer 4 KiB into a live 1 MiB block
 *   double-full  a double free into a page its owner has marked full
 *             (every block of the page allocated first) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(void *p) {
    printf("%p\n", p);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    char *volatile live = malloc(48);
    if (strcmp(mode, "interior") == 0) {
        char *p = live + 16;
        show(p);
        free(p);
    } else if (strcmp(mode, "medium") == 0) {
        char *m = malloc(20 << 10);
        char *p = m + 8;
        show(p);
        free(p);
    } else if (strcmp(mode, "stack") == 0) {
        int local = 0;
        int *volatile p = &local;
        show((void *)p);
        free((void *)p);
    } else if (strcmp(mode, "header") == 0) {
        char *p = (char *)(((uintptr_t)live & ~(uintptr_t)((4 << 20) - 1)) + 16);
        show(p);
        free(p);
    } else if (strcmp(mode, "medium-header") == 0) {
        char *m = malloc(32 << 10);
        char *p = (char *)(((uintptr_t)m & ~(uintptr_t)((4 << 20) - 1)) + (32 << 10));
        show(p);
        free(p);
    } else if (strcmp(mode, "chunk-end") == 0) {
        char *p = (char *)(((uintptr_t)live & ~(uintptr_t)((4 << 20) - 1)) + (4 << 20));
        show(p);
        free(p);
    } else if (strcmp(mode, "large") == 0) {
        char *l = malloc(1 << 20);
        char *p = l + 4096;
        show(p);
        free(p);
    } else if (strcmp(mode, "double-full") == 0) {
        /* 4096 blocks of 16 bytes fill the first 64 KiB page of the
         * class (and more); the owner then finds pages with no free block
         * and marks them full. */
        enum { N = 20000 };
        static void *blk[N];
        for (int i = 0; i < N; i++) blk[i] = malloc(16);
        void *p = blk[5];
        show(p);
        free(p);
        free(p);
    }
    return 0;
}

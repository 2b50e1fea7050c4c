/* An executable that interposes memset, memcpy, memmove and mmap the way a
 * sanitizer runtime does (loci's own, linked by `loci cc`, records mappings
 * and accesses there and may allocate while doing so), and open, openat,
 * read, close and clock_gettime the way other runtimes do (gcc's
 * ThreadSanitizer runtime, I/O tracers, libfaketime): each of them calls
 * malloc and free before doing its work. Under LD_PRELOAD=libloci_alloc.so
 * the allocator must never reach these symbols while it holds one of its
 * locks or is initialising, or the nested malloc waits for that lock
 * forever. It did: the heap of the first thread was written with memset
 * under the heap-arena lock; the NUMA node count was read with
 * open/read/close during the one-time initialisation, which the nested
 * malloc waited for; a released page's time was read with clock_gettime
 * under the heap lock.
 *
 * The program gives threads their first heaps (the library's constructor
 * and pthread_create), makes a segment reuse a still-resident region (a
 * large object freed first; the new segment's header is cleared), and uses
 * calloc, realloc and objects of every kind. Prints "ok interposed=N" with
 * the number of interposed calls that allocated (N > 0 shows the
 * interposition is in effect). Link with -rdynamic so that the shared
 * library's references bind to these definitions. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread int inside;
static long interposed; /* updated atomically */

/* What the runtime does on entry: allocate (once per call, not nested). */
static void runtime_work(void) {
  if (inside) return;
  inside = 1;
  void *p = malloc(48);
  if (!p) abort();
  free(p);
  __atomic_fetch_add(&interposed, 1, __ATOMIC_RELAXED);
  inside = 0;
}

/* Byte loops through volatile pointers: the compiler cannot turn them
 * back into calls to the functions being defined. */
void *memset(void *d, int c, size_t n) {
  runtime_work();
  volatile unsigned char *p = d;
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  runtime_work();
  volatile unsigned char *p = d;
  const volatile unsigned char *q = s;
  for (size_t i = 0; i < n; i++) p[i] = q[i];
  return d;
}

void *memmove(void *d, const void *s, size_t n) {
  runtime_work();
  volatile unsigned char *p = d;
  const volatile unsigned char *q = s;
  if (p < q)
    for (size_t i = 0; i < n; i++) p[i] = q[i];
  else
    for (size_t i = n; i > 0; i--) p[i - 1] = q[i - 1];
  return d;
}

void *mmap(void *a, size_t len, int prot, int flags, int fd, off_t off) {
  runtime_work();
  return (void *)syscall(SYS_mmap, a, len, prot, flags, fd, off);
}

/* The file functions the allocator's initialisation used (libc's open is
 * `open64` under _FILE_OFFSET_BITS=64, so both names are defined). */
static long sys_open(const char *path, int flags, va_list ap) {
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  return syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open(const char *path, int flags, ...) {
  runtime_work();
  va_list ap;
  va_start(ap, flags);
  long r = sys_open(path, flags, ap);
  va_end(ap);
  return (int)r;
}

/* The same function under glibc's large-file name. */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...) {
  runtime_work();
  va_list ap;
  va_start(ap, flags);
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

ssize_t read(int fd, void *buf, size_t n) {
  runtime_work();
  return syscall(SYS_read, fd, buf, n);
}

int close(int fd) {
  runtime_work();
  return (int)syscall(SYS_close, fd);
}

/* The allocator reads a clock under its heap lock (a released page's time);
 * gcc's ThreadSanitizer runtime and libfaketime interpose clock_gettime. */
int clock_gettime(clockid_t clock, struct timespec *ts) {
  runtime_work();
  return (int)syscall(SYS_clock_gettime, clock, ts);
}

static void *worker(void *arg) {
  uintptr_t seed = (uintptr_t)arg;
  void *keep[64];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 64; i++) {
      size_t n = (size_t)1 << (4 + (seed + (uintptr_t)i) % 15); /* 16 B .. 256 KiB */
      keep[i] = (i % 3 == 0) ? calloc(1, n) : malloc(n);
      if (!keep[i]) abort();
      ((char *)keep[i])[n - 1] = 1;
    }
    for (int i = 0; i < 64; i += 2) {
      keep[i] = realloc(keep[i], 3000);
      if (!keep[i]) abort();
    }
    for (int i = 0; i < 64; i++) free(keep[i]);
  }
  return NULL;
}

int main(void) {
  /* A large object, touched and freed: its region stays resident in the
   * allocator's cache, and the next new segment reuses it. */
  size_t big = 2 << 20;
  char *b = malloc(big);
  if (!b) abort();
  for (size_t i = 0; i < big; i += 4096) b[i] = 1;
  free(b);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i * 5))) abort();
  worker((void *)7);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  printf("ok interposed=%ld\n", __atomic_load_n(&interposed, __ATOMIC_RELAXED));
  return 0;
}

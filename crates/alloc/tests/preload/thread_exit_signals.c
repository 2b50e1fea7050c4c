/* A signal handler that allocates, landing in threads while they exit.
 *
 * This is what a program built with a sanitizer runtime does: loci's
 * runtime (libloci_rt.a) instruments the program's signal handlers and
 * may allocate in them. A runtime can defer signals around the malloc and
 * free calls it intercepts, and this program does the same (the handler
 * does nothing while its thread is inside malloc or free), but not around
 * the allocator's own thread-exit destructor, which libc calls. loci-alloc
 * held its heap lock there, and a handler's malloc waited for it forever
 * (crates/rt's thousands_of_threads_and_signals hung so under
 * LD_PRELOAD=libloci_alloc.so). glibc has the same deadlock in its
 * tcache_thread_shutdown, so this program is only run under loci-alloc.
 *
 * SIGALRM every 50 us, blocked in the main thread, so that it lands in the
 * one worker alive at a time; each worker allocates and frees a few
 * blocks of several sizes and exits. Prints "ok" and, on stderr, how many
 * handler runs allocated. Usage: thread_exit_signals [threads] */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

static __thread volatile sig_atomic_t in_malloc;
static long handled; /* updated atomically */

static void *guarded_malloc(size_t n) {
  in_malloc = 1;
  void *p = malloc(n);
  in_malloc = 0;
  return p;
}

static void guarded_free(void *p) {
  in_malloc = 1;
  free(p);
  in_malloc = 0;
}

static void on_alarm(int s) {
  (void)s;
  if (in_malloc) return;
  void *p = malloc(40);
  if (!p) abort();
  free(p);
  __atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  void *keep[32];
  for (int i = 0; i < 32; i++) {
    keep[i] = guarded_malloc((size_t)16 << (i % 12));
    if (!keep[i]) abort();
  }
  for (int i = 0; i < 32; i++) guarded_free(keep[i]);
  return arg;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  struct itimerval every = {{0, 50}, {0, 50}};
  setitimer(ITIMER_REAL, &every, NULL);
  for (int i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL)) abort();
    pthread_join(t, NULL);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("ok\n");
  fprintf(stderr, "handler allocations: %ld\n", __atomic_load_n(&handled, __ATOMIC_RELAXED));
  return 0;
}

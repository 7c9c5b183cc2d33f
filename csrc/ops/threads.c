/* Thread-count control. fastconv's pool is OpenMP's: set_num_threads sets our
 * own cap and the calling thread's OpenMP default (so threadpoolctl, which
 * calls omp_set_num_threads, and OMP_NUM_THREADS both apply); a kernel uses
 * the smaller of our cap and the calling thread's OpenMP default. */
#include <stdatomic.h>
#include <stdlib.h>
#include "internal.h"

static atomic_int fc_cap = -1; /* -1: not read yet; 0: no cap of ours */

static int fc_omp_max(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static int fc_read_cap(void) {
  int cap = atomic_load(&fc_cap);
  if (cap < 0) {
    const char *env = getenv("FASTCONV_NUM_THREADS");
    long v = env ? strtol(env, NULL, 10) : 0;
    cap = v > 0 && v < 4096 ? (int)v : 0;
    int expected = -1;
    atomic_compare_exchange_strong(&fc_cap, &expected, cap);
    cap = atomic_load(&fc_cap);
  }
  return cap;
}

int fc_get_num_threads(void) {
  const int cap = fc_read_cap(), omp = fc_omp_max();
  return cap > 0 && cap < omp ? cap : omp;
}

void fc_set_num_threads(int n) {
  atomic_store(&fc_cap, n > 0 ? n : 0);
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
#endif
}

int fc_openmp_enabled(void) {
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}

static _Atomic int64_t fc_parallel_ns = 50000;

int64_t fc_parallel_threshold_ns(int64_t ns) {
  const int64_t old = atomic_load(&fc_parallel_ns);
  if (ns >= 0) atomic_store(&fc_parallel_ns, ns);
  return old;
}

int fc_threads_for(int64_t work_ns, int64_t max_tasks) {
  if (work_ns < atomic_load(&fc_parallel_ns) || max_tasks < 2) return 1;
  int64_t n = fc_get_num_threads();
  if (n > max_tasks) n = max_tasks;
  return n < 1 ? 1 : (int)n;
}

/* ==== fastconv's thread pool =============================================
 * Persistent worker threads of our own (the way XNNPACK runs on pthreadpool
 * and BLIS/OpenBLAS on their own threads), so fastconv shares no state with
 * another library's OpenMP runtime and survives fork():
 *
 *   - One region runs at a time: fc_parallel takes the submit lock, publishes
 *     the region (function, context, team size) under a sequence lock, wakes
 *     the workers and runs thread 0's share itself. Then it runs every share
 *     no worker has claimed yet (a worker still asleep costs the region no
 *     wake-up wait), and waits for the shares the workers claimed.
 *   - A worker that finished a region spins for a short while (fc_pool_spin_ns) in
 *     case the next one follows at once, then sleeps on a condition variable,
 *     so it never steals a core from NumPy's BLAS threads for long; a loop of
 *     steps made of regions (fit) holds the spin through each step and the
 *     Python between steps (fc_pool_wake's hold).
 *   - Workers are started lazily, when a region first asks for them. A failed
 *     pthread_create is reported as FC_ETHREAD (nothing of the region runs).
 *   - fork(): the prepare handler takes the submit lock (no region is in
 *     flight while the address space is copied); in the child every lock and
 *     counter is reset and the worker count set to zero, so the child starts
 *     its own workers on its first threaded call, with the parent's thread
 *     count.
 *   - Workers block every signal: SIGINT and the like reach Python's thread.
 *
 * Thread count: set_num_threads, else $FASTCONV_NUM_THREADS, else the first
 * entry of $OMP_NUM_THREADS (both variables are read, never written), else the
 * CPUs this process may run on (its affinity mask on Linux, the online CPUs
 * elsewhere), capped by a cgroup CPU quota (fc_cgroup_cpus); lowered further
 * for the calling thread alone by fc_local_thread_limit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity (Linux) */
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#if FASTCONV_HAVE_PTHREADS
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#endif

/* ---- the calling thread's kept scratch ----------------------------------------
 * (fc_scratch_take in internal.h) One block per thread, grown to the largest
 * request up to FC_SCRATCH_KEEP bytes and freed when the thread exits (a
 * pthread key's destructor; the main thread's lasts the process). A request
 * while the block is out (a nested call) goes to the heap. */
static _Thread_local void *fc_kept;
static _Thread_local size_t fc_kept_size;
static _Thread_local int fc_kept_out;
#if FASTCONV_HAVE_PTHREADS
static pthread_key_t fc_kept_key;
static pthread_once_t fc_kept_once = PTHREAD_ONCE_INIT;
static int fc_kept_key_ok;
static void fc_kept_drop(void *block) { free(block); }
static void fc_kept_key_make(void) {
  fc_kept_key_ok = pthread_key_create(&fc_kept_key, fc_kept_drop) == 0;
}
#endif

void *fc_scratch_take(size_t n_bytes) {
  const size_t rounded = n_bytes ? (n_bytes + 63) & ~(size_t)63 : 64;
  if (fc_kept_out || rounded > FC_SCRATCH_KEEP) return fc_alloc(n_bytes);
  if (fc_kept_size < rounded) {
#if FASTCONV_HAVE_PTHREADS
    pthread_once(&fc_kept_once, fc_kept_key_make);
    if (!fc_kept_key_ok) return fc_alloc(n_bytes); /* no destructor: keep nothing */
#endif
    void *block = aligned_alloc(64, rounded);
    if (!block) return NULL;
    free(fc_kept);
    fc_kept = block, fc_kept_size = rounded;
#if FASTCONV_HAVE_PTHREADS
    pthread_setspecific(fc_kept_key, block);
#endif
  }
  fc_kept_out = 1;
  return fc_kept;
}

void fc_scratch_give(void *p) {
  if (p && p == fc_kept)
    fc_kept_out = 0;
  else
    free(p);
}

/* ---- thread count ------------------------------------------------------------ */

static atomic_int fc_cap = -1; /* -1: not resolved yet */

#if FASTCONV_HAVE_PTHREADS
static int fc_default_threads(void) {
  const int asked = fc_env_num_threads(NULL, 0); /* a count from the environment stands */
  if (asked > 0) return asked > FC_MAX_THREADS ? FC_MAX_THREADS : asked;
  int n = 0;
#if defined(__linux__) /* glibc and musl; macOS and the BSDs have no sched_getaffinity */
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n < 1) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  const int quota = fc_cgroup_cpus();
  if (quota > 0 && quota < n) n = quota;
  if (n > FC_MAX_THREADS) n = FC_MAX_THREADS;
  return n < 1 ? 1 : n;
}
#endif

static _Thread_local int fc_local_limit; /* 0: none */

int fc_local_thread_limit(int n) {
  const int old = fc_local_limit;
  if (n >= 0) fc_local_limit = n > FC_MAX_THREADS ? FC_MAX_THREADS : n;
  return old;
}

/* ---- plans (fastconv.h): the calling thread's last one, and plan-only mode ---- */
static _Thread_local struct {
  fc_plan plan;
  int have, only;
  int64_t runs;
} fc_tls_plans;

int fc_record_plan(const fc_plan *plan) {
  __typeof__(fc_tls_plans) *t = &fc_tls_plans; /* one TLS lookup */
  t->plan = *plan;
  t->have = 1;
  t->runs += !t->only;
  return t->only;
}

int64_t fc_plan_runs(void) { return fc_tls_plans.runs; }

int fc_last_plan(fc_plan *plan) {
  if (!fc_tls_plans.have) return 0;
  *plan = fc_tls_plans.plan;
  fc_plan_name(plan);
  return 1;
}

int fc_plan_only(int on) {
  const int old = fc_tls_plans.only;
  if (on > 0) fc_tls_plans.have = 0;
  if (on >= 0) fc_tls_plans.only = on != 0;
  return old;
}

int fc_get_num_threads(void) {
#if FASTCONV_HAVE_PTHREADS
  int n = atomic_load_explicit(&fc_cap, memory_order_relaxed);
  if (n < 1) {
    int expected = -1;
    atomic_compare_exchange_strong(&fc_cap, &expected, fc_default_threads());
    n = atomic_load(&fc_cap);
  }
  return fc_local_limit > 0 && fc_local_limit < n ? fc_local_limit : n;
#else
  return 1;
#endif
}

void fc_set_num_threads(int n) {
  if (n > FC_MAX_THREADS) n = FC_MAX_THREADS;
  atomic_store(&fc_cap, n > 0 ? n : -1); /* n <= 0: back to the default */
}

int fc_threads_enabled(void) { return FASTCONV_HAVE_PTHREADS; }

static _Atomic int64_t fc_parallel_ns = FC_PARALLEL_THRESHOLD_NS;

int64_t fc_parallel_threshold_ns(int64_t ns) {
  const int64_t old = atomic_load(&fc_parallel_ns);
  if (ns >= 0) atomic_store(&fc_parallel_ns, ns);
  return old;
}

typedef struct {
  int (*fn)(void *ctx, int64_t i, int tid);
  void *ctx;
  int64_t count;
  int *status; /* per thread */
} fc_chunks_ctx;

static void fc_chunks_region(void *arg, int tid, int team) {
  const fc_chunks_ctx *c = arg;
  int st = FC_OK;
  for (int64_t i = tid; i < c->count && st == FC_OK; i += team) st = c->fn(c->ctx, i, tid);
  c->status[tid] = st;
}

int fc_run_chunks(int team, int64_t count, int (*fn)(void *ctx, int64_t i, int tid), void *ctx) {
  int status[FC_MAX_THREADS];
  if (count <= 0) return FC_OK;
  if (team > FC_MAX_THREADS) team = FC_MAX_THREADS;
  if (team > count) team = (int)count;
  if (team < 1) team = 1;
  for (int tid = 0; tid < team; tid++) status[tid] = FC_OK; /* (run as one share if nested) */
  fc_chunks_ctx c = {fn, ctx, count, status};
  const int st = fc_parallel(team, fc_chunks_region, &c);
  if (st != FC_OK) return st;
  for (int tid = 0; tid < team; tid++)
    if (status[tid] != FC_OK) return status[tid];
  return FC_OK;
}

int fc_threads_for(int64_t work_ns, int64_t max_tasks) {
  if (work_ns < atomic_load(&fc_parallel_ns) || max_tasks < 2) return 1;
  int64_t n = fc_get_num_threads();
  if (n > max_tasks) n = max_tasks;
  return n < 1 ? 1 : (int)n;
}

/* ---- the pool ------------------------------------------------------------------ */

#if FASTCONV_HAVE_PTHREADS

static _Atomic int64_t fc_spin_ns = 50000; /* see fc_pool_spin_ns */
/* fc_clock_ns() before which idle threads spin on past fc_spin_ns (fc_pool_wake's hold) */
static _Atomic int64_t fc_spin_hold;

int64_t fc_pool_spin_ns(int64_t ns) {
  const int64_t old = atomic_load(&fc_spin_ns);
  if (ns >= 0) atomic_store(&fc_spin_ns, ns);
  return old;
}

static inline void fc_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spin until (*word == value) == equal (returns 1), or for about the spin time
 * and past any hold (returns 0). */
static int fc_spin_until(_Atomic uint64_t *word, uint64_t value, int equal) {
  const int64_t limit = atomic_load_explicit(&fc_spin_ns, memory_order_relaxed);
  const int64_t t0 = limit > 0 ? fc_clock_ns() : 0;
  for (unsigned i = 1;; i++) {
    if ((atomic_load_explicit(word, memory_order_acquire) == value) == equal) return 1;
    if (limit <= 0) return 0;
    fc_relax();
    if ((i & 63) == 0) {
      const int64_t now = fc_clock_ns();
      if (now - t0 > limit && now >= atomic_load_explicit(&fc_spin_hold, memory_order_relaxed))
        return 0;
    }
  }
}

static struct {
  pthread_mutex_t submit; /* held for the whole of one region */
  pthread_mutex_t lock;   /* sleeping and waking */
  pthread_cond_t wake;    /* workers wait here for a region */
  pthread_cond_t done;    /* the submitting thread waits here for the last share */
  _Atomic uint64_t seq;   /* sequence lock over the region below: odd while written */
  _Atomic(fc_region_fn) fn;
  _Atomic(void *) ctx;
  atomic_int team;
  _Atomic uint64_t finished; /* shares of tids 1..team-1 done, counted up */
  atomic_int sleepers;    /* workers waiting on `wake` */
  int started;            /* workers running (tids 1..started) */
  /* claim[tid]: the sequence number of the last region whose share tid was
   * taken, by its worker or by the submitting thread (whoever comes first) */
  _Atomic uint64_t claim[FC_MAX_THREADS];
  uint64_t start_seq[FC_MAX_THREADS];
  pthread_t threads[FC_MAX_THREADS];
} pool = {.submit = PTHREAD_MUTEX_INITIALIZER,
          .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static _Thread_local int fc_in_region; /* this thread is running a region's share */

/* Take share tid of region s, unless someone took it already (claims only
 * move forward, so a worker still holding an older region takes nothing). */
static int fc_claim(int tid, uint64_t s) {
  uint64_t old = atomic_load_explicit(&pool.claim[tid], memory_order_relaxed);
  while (old < s)
    if (atomic_compare_exchange_weak_explicit(&pool.claim[tid], &old, s, memory_order_acq_rel,
                                              memory_order_relaxed))
      return 1;
  return 0;
}

/* One share done; the last one wakes the submitting thread if it sleeps. */
static void fc_share_done(int team) {
  if (atomic_fetch_add_explicit(&pool.finished, 1, memory_order_acq_rel) + 1 == (uint64_t)(team - 1)) {
    pthread_mutex_lock(&pool.lock);
    pthread_cond_signal(&pool.done);
    pthread_mutex_unlock(&pool.lock);
  }
}

static void *fc_worker(void *arg) {
  const int tid = (int)(intptr_t)arg;
  uint64_t seen = pool.start_seq[tid];
  fc_in_region = 1; /* a nested fc_parallel from a worker runs serially */
  for (;;) {
    /* wait for a new region: spin a little, then sleep */
    if (!fc_spin_until(&pool.seq, seen, 0)) {
      pthread_mutex_lock(&pool.lock);
      atomic_fetch_add(&pool.sleepers, 1);
      while (atomic_load(&pool.seq) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
      atomic_fetch_sub(&pool.sleepers, 1);
      pthread_mutex_unlock(&pool.lock);
    }
    /* read the region consistently (the sequence lock) */
    uint64_t s;
    fc_region_fn fn;
    void *ctx;
    int team;
    for (;;) {
      s = atomic_load_explicit(&pool.seq, memory_order_acquire);
      if (s & 1u) {
        fc_relax();
        continue;
      }
      fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
      ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
      team = atomic_load_explicit(&pool.team, memory_order_relaxed);
      atomic_thread_fence(memory_order_acquire);
      if (atomic_load_explicit(&pool.seq, memory_order_relaxed) == s) break;
    }
    seen = s;
    /* a region that does not need this worker, or whose share for it was
     * already taken by the submitting thread, is none of its business */
    if (tid >= team || !fc_claim(tid, s)) continue;
    fn(ctx, tid, team);
    fc_share_done(team);
  }
  return NULL;
}

/* Start workers up to tid n - 1; FC_ETHREAD if one cannot be started. */
static int fc_start_workers(int n) {
  if (pool.started >= n - 1) return FC_OK;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* workers inherit a blocked mask */
  int status = FC_OK;
  while (pool.started < n - 1) {
    const int tid = pool.started + 1;
    pool.start_seq[tid] = atomic_load(&pool.seq);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int err = pthread_create(&pool.threads[tid], &attr, fc_worker, (void *)(intptr_t)tid);
    pthread_attr_destroy(&attr);
    if (err != 0) {
      status = FC_ETHREAD;
      break;
    }
    pool.started = tid;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return status;
}

static void fc_atfork_prepare(void) { pthread_mutex_lock(&pool.submit); }
static void fc_atfork_parent(void) { pthread_mutex_unlock(&pool.submit); }
static void fc_atfork_child(void) {
  /* only the forking thread exists here: the workers are gone (the sequence
   * number and the claims stay, so they keep moving forward) */
  pthread_mutex_init(&pool.submit, NULL);
  pthread_mutex_init(&pool.lock, NULL);
  pthread_cond_init(&pool.wake, NULL);
  pthread_cond_init(&pool.done, NULL);
  atomic_store(&pool.finished, 0);
  atomic_store(&pool.sleepers, 0);
  atomic_store(&fc_spin_hold, 0);
  pool.started = 0;
}

static pthread_once_t fc_once = PTHREAD_ONCE_INIT;
static void fc_register_atfork(void) {
  pthread_atfork(fc_atfork_prepare, fc_atfork_parent, fc_atfork_child);
}

int fc_parallel(int team, fc_region_fn fn, void *ctx) {
  if (team <= 1 || fc_in_region) {
    fn(ctx, 0, 1);
    return FC_OK;
  }
  if (team > FC_MAX_THREADS) team = FC_MAX_THREADS;
  pthread_once(&fc_once, fc_register_atfork);
  pthread_mutex_lock(&pool.submit);
  const int status = fc_start_workers(team);
  if (status != FC_OK) {
    pthread_mutex_unlock(&pool.submit);
    return status;
  }
  /* publish the region */
  atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
  const uint64_t s = atomic_load_explicit(&pool.seq, memory_order_relaxed) + 2;
  atomic_store_explicit(&pool.seq, s - 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
  atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&pool.team, team, memory_order_relaxed);
  atomic_store(&pool.seq, s); /* seq_cst: ordered before the sleepers check */
  if (atomic_load(&pool.sleepers) > 0) {
    pthread_mutex_lock(&pool.lock);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
  }
  fc_in_region = 1;
  fn(ctx, 0, team);
  /* shares no worker has taken yet (it is still asleep, or busy elsewhere)
   * are run here rather than waited for: a share's result depends only on
   * (tid, team), so the bits are the same whoever runs it */
  for (int tid = 1; tid < team; tid++)
    if (fc_claim(tid, s)) {
      fn(ctx, tid, team);
      fc_share_done(team);
    }
  fc_in_region = 0;
  /* wait for the shares the workers took: spin a little, then sleep */
  const uint64_t members = (uint64_t)(team - 1);
  if (!fc_spin_until(&pool.finished, members, 1)) {
    pthread_mutex_lock(&pool.lock);
    while (atomic_load(&pool.finished) != members) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
  }
  pthread_mutex_unlock(&pool.submit);
  return FC_OK;
}

int fc_pool_workers(void) { return pool.started; }

static void fc_noop_share(void *ctx, int tid, int team) {
  (void)ctx, (void)tid, (void)team;
}

/* An empty region: a sleeping worker is woken by it (and finds its share
 * already taken by the caller, which does not wait for the wake-up), a
 * spinning one claims it and spins anew, now at least until the hold ends
 * (the latest hold asked for stands). Workers that do not spin would only
 * fall asleep again. */
void fc_pool_wake(int64_t hold_ns) {
  const int team = fc_get_num_threads();
  if (team > 1 && !fc_in_region && pool.started > 0 && atomic_load(&fc_spin_ns) > 0) {
    if (hold_ns > 0) {
      if (hold_ns > FC_POOL_HOLD_MAX_NS) hold_ns = FC_POOL_HOLD_MAX_NS;
      const int64_t until = fc_clock_ns() + hold_ns;
      int64_t old = atomic_load_explicit(&fc_spin_hold, memory_order_relaxed);
      while (old < until && !atomic_compare_exchange_weak_explicit(
                                &fc_spin_hold, &old, until, memory_order_relaxed, memory_order_relaxed)) {
      }
    }
    (void)fc_parallel(team, fc_noop_share, NULL);
  }
}

#else /* no threads: every region runs on the caller */

int64_t fc_pool_spin_ns(int64_t ns) {
  (void)ns;
  return 0;
}

int fc_parallel(int team, fc_region_fn fn, void *ctx) {
  (void)team;
  fn(ctx, 0, 1);
  return FC_OK;
}

int fc_pool_workers(void) { return 0; }

void fc_pool_wake(int64_t hold_ns) { (void)hold_ns; }

#endif

/* ---- probe: the cost of one region ------------------------------------------- */

static void fc_busy_region(void *ctx, int tid, int team) {
  (void)tid, (void)team;
  const int64_t work = *(const int64_t *)ctx, t0 = fc_clock_ns();
  while (fc_clock_ns() - t0 < work) {
  }
}

double fc_probe_region_ns(int team, int64_t count, int64_t work_ns) {
  if (count < 1) return -1.0;
  if (fc_parallel(team, fc_busy_region, &work_ns) != FC_OK) return -1.0; /* workers started */
  const int64_t t0 = fc_clock_ns();
  for (int64_t i = 0; i < count; i++) fc_parallel(team, fc_busy_region, &work_ns);
  return (double)(fc_clock_ns() - t0) / (double)count;
}

/* ---- loops over a range ------------------------------------------------------
 * The dynamic loop gives each thread a contiguous range of chunks to start
 * with (its fc_share of the range count) and, once its own are done, the
 * chunks left in the other ranges, taken from each range's counter: a thread
 * that wakes late finds its range partly or wholly taken rather than the
 * others waiting for it. One shared counter handing out chunk after chunk
 * would put neighbouring chunks on different threads at the same moment; where
 * chunks write neighbouring memory (the rows of a GEMM's result) the two cores
 * then fight over the lines at every boundary. AMD EPYC Zen 4, 2 threads: the
 * dense kernel gradient of the lecture's Dense(128) (4,732 x 128, 6x16 tiles
 * in groups of 60 rows, FASTCONV_ISA=avx2) took 0.26 ms in some minutes and
 * 0.82-0.91 ms in others (0.40 at 1 thread), and takes 0.21 ms with a range
 * per thread; the lecture's training step went from 1.07 to 0.95-0.98 ms
 * (AVX2: 1.32-1.38 to 1.18-1.20 ms), its results unchanged to the bit. */

typedef struct {
  fc_range_fn fn;
  void *ctx;
  fc_claims claims;
} fc_for_ctx;

void fc_claims_init(fc_claims *c, int64_t n, int64_t grain, int team) {
  c->n = n, c->grain = grain > 0 ? grain : 1;
  c->ranges = team < 1 ? 1 : team < FC_CLAIM_RANGES ? team : FC_CLAIM_RANGES;
  for (int r = 0; r < c->ranges; r++) {
    int64_t lo, hi;
    fc_share(n, r, c->ranges, &lo, &hi);
    atomic_init(&c->at[r].next, lo);
  }
}

int64_t fc_claims_next(fc_claims *c, int tid, int *step, int64_t *i1) {
  const int R = c->ranges;
  for (; *step < R; ++*step) { /* its own range first, then the next ones' */
    const int rg = (tid % R + *step) % R;
    int64_t lo, end;
    fc_share(c->n, rg, R, &lo, &end);
    const int64_t i0 = atomic_fetch_add_explicit(&c->at[rg].next, c->grain, memory_order_relaxed);
    if (i0 < end) {
      *i1 = fc_min64(end, i0 + c->grain);
      return i0;
    }
  }
  return -1;
}

static void fc_for_static(void *arg, int tid, int team) {
  fc_for_ctx *c = arg;
  int64_t i0, i1;
  fc_share(c->claims.n, tid, team, &i0, &i1);
  if (i1 > i0) c->fn(c->ctx, tid, i0, i1);
}

static void fc_for_dynamic(void *arg, int tid, int team) {
  (void)team;
  fc_for_ctx *c = arg;
  int step = 0;
  int64_t i0, i1;
  while ((i0 = fc_claims_next(&c->claims, tid, &step, &i1)) >= 0) c->fn(c->ctx, tid, i0, i1);
}

int fc_parallel_for(int team, int64_t n, int64_t grain, fc_range_fn fn, void *ctx) {
  if (n <= 0) return FC_OK;
  if (team <= 1 || n == 1) {
    fn(ctx, 0, 0, n);
    return FC_OK;
  }
  fc_for_ctx c = {.fn = fn, .ctx = ctx};
  fc_claims_init(&c.claims, n, grain, team);
  return fc_parallel(team, grain > 0 ? fc_for_dynamic : fc_for_static, &c);
}

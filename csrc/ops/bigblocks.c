/* ==== large blocks for results and scratch, kept for the next call ===========
 * (fc_big_* in fastconv.h; the drivers' scratch: fc_alloc_large in internal.h)
 * glibc serves a request of more than 32 MiB (its
 * largest mmap threshold on 64-bit) with a mapping of its own and unmaps it
 * at free, so a call whose result is that large and is made again and again
 * (each result dropped before the next) faults every page of its result in
 * anew each time, the kernel zeroing each page: the 7x7 stride-2 convolution
 * of 32 RGB 224x224 images into 64 channels (a 102 MB result) took 0.843x the
 * time at two threads with these blocks kept (Intel Xeon, Emerald Rapids). These blocks are such
 * mappings, and a freed one is kept for a later request of about its size
 * instead of being unmapped.
 *
 * A kept block is given to the kernel as reclaimable (MADV_FREE): until the
 * system needs the memory its pages stay mapped and a reuse faults nothing;
 * under memory pressure the kernel takes them without swapping, and a reuse
 * then faults them in as a new mapping would (a cgroup's memory limit
 * reclaims them likewise before it would kill). At most FC_BIG_SLOTS blocks
 * and fc_big_keep's bytes are kept (by default an eighth of the physical
 * memory or of a cgroup's memory limit, the smaller, at most 4 GiB); a freed
 * block that does not fit is unmapped.
 *
 * Any thread may allocate and free at any time; a fork's child inherits the
 * kept mappings and may use them. */
#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#if FASTCONV_HAVE_PTHREADS
#include <pthread.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define FC_BIG_MMAP 1
#else
#define FC_BIG_MMAP 0
#endif

enum { FC_BIG_SLOTS = 8 };
#define FC_BIG_MAGIC UINT64_C(0x66636269676b3031) /* "fcbigk01" */
#define FC_BIG_HUGE ((size_t)2 << 20)             /* the huge page the mapping is aligned to */
#define FC_BIG_KEEP_CAP ((int64_t)4 << 30)

/* The first 64 bytes of a block; the caller's bytes follow (64-byte aligned). */
typedef struct {
  uint64_t magic;
  size_t mapped; /* bytes mapped from base (the header's own address) */
  size_t usable; /* bytes the caller may use after the header */
  uint64_t pad[5];
} fc_big_head;

static _Atomic int64_t fc_big_limit = -1; /* -1: the default, resolved at first use */

/* An eighth of the physical memory or of a cgroup's memory limit, the smaller
 * (a container sees the host's memory as physical), at most FC_BIG_KEEP_CAP. */
static int64_t fc_big_default_limit(void) {
  int64_t limit = 0;
#if FC_BIG_MMAP && defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0 && (uint64_t)pages <= (uint64_t)INT64_MAX / 8 / (uint64_t)page)
    limit = (int64_t)pages * page / 8;
  const int64_t cg = fc_cgroup_memory() / 8;
  if (cg > 0 && cg < limit) limit = cg;
#endif
  return limit > FC_BIG_KEEP_CAP ? FC_BIG_KEEP_CAP : limit;
}

static int64_t fc_big_limit_now(void) {
  int64_t v = atomic_load(&fc_big_limit);
  if (v < 0) {
    int64_t expected = -1;
    const int64_t d = fc_big_default_limit();
    v = atomic_compare_exchange_strong(&fc_big_limit, &expected, d) ? d : expected;
  }
  return v;
}

#if FC_BIG_MMAP
/* the kept blocks and their mapped bytes, under fc_big_lock */
static fc_big_head *fc_big_slot[FC_BIG_SLOTS];
static int64_t fc_big_kept_bytes;

static void fc_big_unmap(fc_big_head *h) { munmap(h, h->mapped); }

/* A new mapping of at least `usable` bytes after the header, aligned to a
 * huge page and advised to use them where asked (as NumPy does with its
 * large arrays). */
static fc_big_head *fc_big_map(size_t usable, int hugepage) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (usable > SIZE_MAX - sizeof(fc_big_head) - 2 * FC_BIG_HUGE) return NULL;
  const size_t want = (sizeof(fc_big_head) + usable + page - 1) / page * page;
  const int align = hugepage && want >= FC_BIG_HUGE;
  size_t len = align ? want + FC_BIG_HUGE : want;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  if (align) { /* give back the head and tail around the aligned start */
    const size_t head = (FC_BIG_HUGE - (uintptr_t)p % FC_BIG_HUGE) % FC_BIG_HUGE;
    if (head) munmap(p, head);
    if (len - head > want) munmap(p + head + want, len - head - want);
    p += head, len = want;
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#endif
  }
  fc_big_head *h = (fc_big_head *)p;
  h->magic = FC_BIG_MAGIC, h->mapped = len, h->usable = len - sizeof(fc_big_head);
  return h;
}

/* The slots' lock, held for a few loads and stores at most. Allocating and
 * freeing only try it (a thread finding it held maps or unmaps as if nothing
 * were kept); publishing a reserved slot, release and kept wait for it. A
 * fork's child (where the holder may not exist) finds it cleared
 * (fc_big_child). */
static atomic_flag fc_big_lock = ATOMIC_FLAG_INIT;
#if FASTCONV_HAVE_PTHREADS
static pthread_once_t fc_big_once = PTHREAD_ONCE_INIT;
static void fc_big_child(void) { atomic_flag_clear(&fc_big_lock); }
static void fc_big_register(void) { pthread_atfork(NULL, NULL, fc_big_child); }
#endif
static int fc_big_try_lock(void) {
#if FASTCONV_HAVE_PTHREADS
  pthread_once(&fc_big_once, fc_big_register);
#endif
  return !atomic_flag_test_and_set_explicit(&fc_big_lock, memory_order_acquire);
}
static void fc_big_wait_lock(void) {
  while (!fc_big_try_lock()) {
  }
}
static void fc_big_unlock(void) { atomic_flag_clear_explicit(&fc_big_lock, memory_order_release); }

/* The smallest kept block for `usable` bytes wasting at most a quarter of
 * it, taken out of its slot; or NULL. */
static fc_big_head *fc_big_take(size_t usable) {
  if (!fc_big_try_lock()) return NULL;
  int best = -1;
  for (int i = 0; i < FC_BIG_SLOTS; i++) {
    const fc_big_head *h = fc_big_slot[i];
    if (h && h->usable >= usable && h->usable - usable <= usable / 4 &&
        (best < 0 || h->usable < fc_big_slot[best]->usable))
      best = i;
  }
  fc_big_head *h = best < 0 ? NULL : fc_big_slot[best];
  if (h) fc_big_slot[best] = NULL, fc_big_kept_bytes -= (int64_t)h->mapped;
  fc_big_unlock();
  return h;
}

/* A slot for h, reserved (holding fc_big_mark, which no request matches) and
 * its bytes counted, if one is free and the kept bytes stay within the
 * limit; else -1. fc_big_publish puts h there. */
static fc_big_head fc_big_mark;
static int fc_big_reserve(const fc_big_head *h) {
  const int64_t limit = fc_big_limit_now(), size = (int64_t)h->mapped;
  if (size > limit || !fc_big_try_lock()) return -1;
  int slot = -1;
  if (fc_big_kept_bytes + size <= limit)
    for (int i = 0; i < FC_BIG_SLOTS && slot < 0; i++)
      if (!fc_big_slot[i]) fc_big_slot[i] = &fc_big_mark, fc_big_kept_bytes += size, slot = i;
  fc_big_unlock();
  return slot;
}

static void fc_big_publish(int slot, fc_big_head *h) {
  fc_big_wait_lock();
  fc_big_slot[slot] = h;
  fc_big_unlock();
}
#endif

void *fc_big_alloc(size_t n_bytes, int hugepage, int zeroed) {
  const size_t usable = n_bytes ? n_bytes : 1;
#if FC_BIG_MMAP
  fc_big_head *h = fc_big_take(usable);
  if (h) {
    if (zeroed) memset(h + 1, 0, usable); /* a new mapping is zero already */
    return h + 1;
  }
  h = fc_big_map(usable, hugepage);
  return h ? h + 1 : NULL;
#else
  (void)hugepage;
  if (usable > SIZE_MAX - sizeof(fc_big_head) - 63) return NULL;
  const size_t total = (sizeof(fc_big_head) + usable + 63) & ~(size_t)63;
  fc_big_head *h = aligned_alloc(64, total);
  if (!h) return NULL;
  h->magic = FC_BIG_MAGIC, h->mapped = total, h->usable = total - sizeof(fc_big_head);
  if (zeroed) memset(h + 1, 0, usable);
  return h + 1;
#endif
}

size_t fc_big_usable(const void *p) {
  const fc_big_head *h = (const fc_big_head *)p - 1;
  return h->usable;
}

void fc_big_free(void *p) {
  if (!p) return;
  fc_big_head *h = (fc_big_head *)p - 1;
  assert(h->magic == FC_BIG_MAGIC);
#if FC_BIG_MMAP
  const int slot = fc_big_reserve(h);
  if (slot < 0) {
    fc_big_unmap(h);
    return;
  }
  /* the pages after the header's are the kernel's to reclaim while kept
   * (advised before the block is in its slot, where another thread may take it) */
#ifdef MADV_FREE
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (h->mapped > page) madvise((char *)h + page, h->mapped - page, MADV_FREE);
#endif
  fc_big_publish(slot, h);
#else
  free(h);
#endif
}

int64_t fc_big_release(void) {
  int64_t released = 0;
#if FC_BIG_MMAP
  fc_big_head *out[FC_BIG_SLOTS];
  int n = 0;
  fc_big_wait_lock();
  for (int i = 0; i < FC_BIG_SLOTS; i++) /* (a reserved slot is its freeing thread's) */
    if (fc_big_slot[i] && fc_big_slot[i] != &fc_big_mark) {
      out[n++] = fc_big_slot[i], fc_big_slot[i] = NULL;
      fc_big_kept_bytes -= (int64_t)out[n - 1]->mapped;
    }
  fc_big_unlock();
  for (int i = 0; i < n; i++) released += (int64_t)out[i]->mapped, fc_big_unmap(out[i]);
#endif
  return released;
}

int64_t fc_big_kept(void) {
#if FC_BIG_MMAP
  fc_big_wait_lock();
  const int64_t v = fc_big_kept_bytes;
  fc_big_unlock();
  return v;
#else
  return 0; /* nothing is kept without mmap */
#endif
}

int64_t fc_big_keep(int64_t max_bytes) {
  const int64_t before = fc_big_limit_now();
  if (max_bytes >= 0) {
    atomic_store(&fc_big_limit, max_bytes);
    if (max_bytes < before) fc_big_release();
  }
  return before;
}

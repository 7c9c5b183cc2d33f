/* ==== the autotuner's choices ==================================================
 * For a kind of product (a site: conv2d's indirect GEMM, the dense GEMM) at
 * given sizes, which of the dispatch table's tiles to run. fastconv/_tuning.py
 * measures the tiles and loads its choices here; the planners ask
 * fc_tune_variant. A tile only changes how outputs are grouped into register
 * tiles, never how one output is summed, so every choice gives the same bits.
 *
 * The table is replaced whole and read without a lock: a reader loads the
 * current pointer, and a replaced table is kept (not freed) until the process
 * ends, as a reader may still hold it. A process replaces it a few times
 * (each load of the tuning file, each tuning run), and fc_tune_load refuses
 * tables once FC_TUNE_MAX_KEPT entries have been loaded in all, which bounds
 * what is kept. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

enum { FC_TUNE_MAX_ENTRIES = 4096, FC_TUNE_MAX_KEPT = 1 << 16, FC_TUNE_MAX_SEEN = 16 };

typedef struct fc_tune_table {
  struct fc_tune_table *retired; /* the table replaced before this one was */
  int64_t n;
  fc_tune_entry e[]; /* sorted by fc_tune_cmp */
} fc_tune_table;

static _Atomic(fc_tune_table *) fc_tuned = NULL;
static _Atomic(fc_tune_table *) fc_retired = NULL; /* replaced tables, kept reachable */
static _Atomic int64_t fc_tune_kept = 0; /* entries loaded in all */
/* this thread's forced choice (fc_tune_force), and the products it planned */
static _Thread_local int fc_forcing = 0;
static _Thread_local fc_tune_entry fc_forced;
static _Thread_local fc_tune_entry fc_seen[FC_TUNE_MAX_SEEN];
static _Thread_local int fc_nseen = 0;

static int fc_tune_cmp(const void *pa, const void *pb) {
  const fc_tune_entry *a = pa, *b = pb;
  const int64_t ka[6] = {a->site, a->isa, a->elem, a->rows, a->cols, a->depth};
  const int64_t kb[6] = {b->site, b->isa, b->elem, b->rows, b->cols, b->depth};
  for (int i = 0; i < 6; i++)
    if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

int fc_tune_load(int64_t n, const fc_tune_entry *entries) {
  if (n < 0 || n > FC_TUNE_MAX_ENTRIES || (n > 0 && !entries)) return FC_EINVAL;
  for (int64_t i = 0; i < n; i++)
    if (entries[i].variant < 0 || entries[i].variant >= FC_MAX_IGEMM_TILES) return FC_EINVAL;
  fc_tune_table *t = NULL;
  if (n > 0) {
    if (atomic_fetch_add(&fc_tune_kept, n) + n > FC_TUNE_MAX_KEPT) {
      atomic_fetch_sub(&fc_tune_kept, n);
      return FC_EINVAL;
    }
    t = malloc(sizeof *t + (size_t)n * sizeof(fc_tune_entry));
    if (!t) return FC_ENOMEM;
    t->n = n;
    memcpy(t->e, entries, (size_t)n * sizeof(fc_tune_entry));
    qsort(t->e, (size_t)n, sizeof(fc_tune_entry), fc_tune_cmp);
  }
  fc_tune_table *old = atomic_exchange(&fc_tuned, t);
  if (old) { /* kept (see above), on the list of replaced tables */
    old->retired = atomic_load(&fc_retired);
    while (!atomic_compare_exchange_weak(&fc_retired, &old->retired, old)) {
    }
  }
  return FC_OK;
}

int64_t fc_tune_count(void) {
  const fc_tune_table *t = atomic_load(&fc_tuned);
  return t ? t->n : 0;
}

int fc_tune_force(const fc_tune_entry *choice) {
  if (choice && (choice->variant < 0 || choice->variant >= FC_MAX_IGEMM_TILES)) return FC_EINVAL;
  fc_forcing = choice != NULL;
  if (choice) fc_forced = *choice;
  return FC_OK;
}

int fc_tune_seen(fc_tune_entry *out, int max, int reset) {
  int n = 0;
  for (; n < fc_nseen && n < max; n++) out[n] = fc_seen[n];
  if (reset) fc_nseen = 0;
  return n;
}

int fc_tune_variant(fc_tune_site site, int64_t elem, int64_t rows, int64_t cols, int64_t depth,
                    int static_variant) {
  const fc_tune_entry key = {site, fc_current_isa(), elem, rows, cols, depth, static_variant};
  int known = 0;
  for (int i = 0; i < fc_nseen && !known; i++) known = fc_tune_cmp(&fc_seen[i], &key) == 0;
  if (!known && fc_nseen < FC_TUNE_MAX_SEEN) fc_seen[fc_nseen++] = key;
  if (fc_forcing && (fc_forced.rows < 0 || fc_tune_cmp(&fc_forced, &key) == 0))
    return fc_forced.variant;
  const fc_tune_table *t = atomic_load(&fc_tuned);
  if (!t) return -1;
  const fc_tune_entry *hit = bsearch(&key, t->e, (size_t)t->n, sizeof key, fc_tune_cmp);
  return hit ? hit->variant : -1;
}

int fc_igemm_tiles(int64_t elem, int64_t mr[], int64_t nr[], int max) {
  const fc_ukernel_table *tab = fc_table();
  int n = 0;
  for (int i = 0; i < FC_MAX_IGEMM_TILES && n < max; i++) {
    const int f32 = elem == 4;
    if (f32 ? !tab->f32_igemm[i].fn : !tab->f64_igemm[i].fn) break;
    mr[n] = (int64_t)(f32 ? tab->f32_igemm[i].mr : tab->f64_igemm[i].mr);
    nr[n] = (int64_t)(f32 ? tab->f32_igemm[i].nr : tab->f64_igemm[i].nr);
    n++;
  }
  return n;
}

/* ---- choices learned at first use ----------------------------------------------
 * A fixed array filled once slot by slot, never emptied: a writer claims a slot
 * with one atomic add, fills it, then marks it ready; a reader looks only at
 * ready slots. No lock, so nothing to be held across fork. */
static _Atomic int fc_learning = 0;
static _Atomic int64_t fc_nlearned = 0; /* slots claimed (may pass the bound) */
static struct {
  _Atomic int ready;
  fc_tune_entry e;
  int32_t static_variant;
} fc_learned_slots[FC_TUNE_MAX_LEARNED];

int fc_tune_learning(int on) {
  return on < 0 ? atomic_load(&fc_learning) : atomic_exchange(&fc_learning, on != 0);
}

static int64_t fc_learned_claimed(void) {
  return fc_min64(atomic_load(&fc_nlearned), FC_TUNE_MAX_LEARNED);
}

int fc_tune_learned_variant(const fc_tune_entry *key) {
  for (int64_t i = 0; i < fc_learned_claimed(); i++)
    if (atomic_load_explicit(&fc_learned_slots[i].ready, memory_order_acquire) &&
        fc_tune_cmp(&fc_learned_slots[i].e, key) == 0)
      return fc_learned_slots[i].e.variant;
  return -2;
}

int fc_tune_learn_room(void) { return atomic_load(&fc_nlearned) < FC_TUNE_MAX_LEARNED; }

void fc_tune_learn(const fc_tune_entry *choice, int static_variant) {
  const int64_t i = atomic_fetch_add(&fc_nlearned, 1);
  if (i >= FC_TUNE_MAX_LEARNED) return;
  fc_learned_slots[i].e = *choice;
  fc_learned_slots[i].static_variant = static_variant;
  atomic_store_explicit(&fc_learned_slots[i].ready, 1, memory_order_release);
}

int64_t fc_tune_learned(fc_tune_entry *out, int32_t *static_variant, int64_t max) {
  int64_t n = 0;
  for (int64_t i = 0; i < fc_learned_claimed() && n < max; i++)
    if (atomic_load_explicit(&fc_learned_slots[i].ready, memory_order_acquire)) {
      if (static_variant) static_variant[n] = fc_learned_slots[i].static_variant;
      out[n++] = fc_learned_slots[i].e;
    }
  return n;
}

static int fc_double_cmp(const void *pa, const void *pb) {
  const double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* The median of v[0..n) (the mean of the middle two for even n), sorting buf. */
static double fc_median(const double *v, int n, double *buf) {
  memcpy(buf, v, (size_t)n * sizeof *buf);
  qsort(buf, (size_t)n, sizeof *buf, fc_double_cmp);
  return n % 2 ? buf[n / 2] : (buf[n / 2 - 1] + buf[n / 2]) / 2;
}

int fc_tune_pick(const double *t, int n, int rounds, int fixed) {
  return fc_tune_pick_margin(t, n, rounds, fixed, FC_TUNE_MARGIN);
}

int fc_tune_pick_margin(const double *t, int n, int rounds, int fixed, double margin) {
  if (n < 2 || n > FC_MAX_IGEMM_TILES || rounds < 1 || fixed < 0 || fixed >= n) return fixed;
  double *buf = malloc((size_t)rounds * sizeof *buf), med[FC_MAX_IGEMM_TILES];
  if (!buf) return fixed;
  for (int v = 0; v < n; v++) med[v] = fc_median(t + (int64_t)v * rounds, rounds, buf);
  free(buf);
  int best = fixed;
  for (int v = 0; v < n; v++)
    if (med[v] < med[best]) best = v;
  int wins = 0;
  for (int r = 0; r < rounds; r++) wins += t[(int64_t)best * rounds + r] < t[(int64_t)fixed * rounds + r];
  const int faster = med[best] < med[fixed] * (1.0 - margin);
  return best != fixed && faster && 5 * wins >= 4 * rounds ? best : fixed;
}

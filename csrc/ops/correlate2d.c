/* ==== correlate2d ========================================================
 * Parameter checks, the boundary index rules and the tiling shared by both
 * dtypes, then the driver template (correlate-impl.h) for float and double.
 * (correlate1d.c calls the 2-D driver with one row.) */
#include <stdatomic.h>
#include <string.h>
#include "internal.h"

#define FC_CORRELATE_LIMIT ((int64_t)1 << 62) /* sizes and pads; keeps index sums in int64 */
#define FC_CORRELATE_BAND_BYTES (256 * 1024)  /* one padded band: half of a 512 KiB+ L2 */
#define FC_CORRELATE_MAX_COLS 4096            /* columns per task */

/* Re-checks what the Python layer validated, so a direct C caller gets FC_EINVAL
 * or FC_EOVERFLOW instead of an out-of-bounds access. */
static int fc_correlate2d_check(const fc_correlate2d_params *p) {
  const int64_t sizes[7] = {p->h, p->w, p->ldx, p->kh, p->kw, p->oh, p->ow};
  for (int i = 0; i < 7; i++)
    if (sizes[i] < 0) return FC_EINVAL;
  if (p->kh < 1 || p->kw < 1 || (p->h > 1 && p->ldx < p->w)) return FC_EINVAL;
  if (p->boundary != FC_BOUNDARY_FILL && p->boundary != FC_BOUNDARY_WRAP &&
      p->boundary != FC_BOUNDARY_SYMM)
    return FC_EINVAL;
  if (p->boundary != FC_BOUNDARY_FILL && (p->h == 0 || p->w == 0) && p->oh > 0 && p->ow > 0)
    return FC_EINVAL; /* nothing to wrap or mirror */
  const int64_t lim = FC_CORRELATE_LIMIT;
  for (int i = 0; i < 7; i++)
    if (sizes[i] > lim) return FC_EOVERFLOW;
  if (p->pad_top > lim || p->pad_top < -lim || p->pad_left > lim || p->pad_left < -lim)
    return FC_EOVERFLOW;
  int64_t t;
  if (!fc_mul(p->h, p->ldx, &t) || !fc_mul(p->oh, p->ow, &t) || !fc_mul(p->kh, p->kw, &t))
    return FC_EOVERFLOW;
  return FC_OK;
}

/* Row or column g of the extended input, as an index into [0, n), or -1 for
 * the fill value. SYMM is scipy's reflect_symm_index, WRAP its circular_wrap_index. */
static inline int64_t fc_correlate_map(int64_t g, int64_t n, fc_boundary boundary) {
  if (g >= 0 && g < n) return g;
  if (boundary == FC_BOUNDARY_WRAP) {
    const int64_t r = g % n;
    return r < 0 ? r + n : r;
  }
  if (boundary == FC_BOUNDARY_SYMM) {
    const int64_t k = (g >= 0 ? g : -(g + 1)) % (2 * n);
    return k >= n ? 2 * n - k - 1 : k;
  }
  return -1;
}

typedef struct {
  int64_t rb, cb;               /* output rows and columns per task */
  int64_t row_tasks, col_tasks;
  int64_t scratch_elems;        /* one thread's padded band, or -1 on overflow */
} fc_correlate_tiling;

/* Columns: whole rows up to FC_CORRELATE_MAX_COLS. Rows: as many as keep the
 * padded band within FC_CORRELATE_BAND_BYTES, but few enough that every thread
 * gets about four tasks. */
static fc_correlate_tiling fc_correlate_tiles(const fc_correlate2d_params *p, size_t elem) {
  fc_correlate_tiling t;
  t.cb = fc_min64(p->ow, FC_CORRELATE_MAX_COLS);
  t.col_tasks = fc_ceil_div(p->ow, t.cb);
  const int64_t wcols = t.cb + p->kw - 1;
  int64_t band_rows = FC_CORRELATE_BAND_BYTES / (int64_t)elem / wcols;
  t.rb = fc_max64(band_rows - (p->kh - 1), 8);
  const int64_t threads = fc_get_num_threads();
  if (t.col_tasks < 4 * threads) {
    const int64_t want_row_tasks = fc_ceil_div(4 * threads, t.col_tasks);
    t.rb = fc_min64(t.rb, fc_max64(fc_ceil_div(p->oh, want_row_tasks), 1));
  }
  t.rb = fc_min64(t.rb, p->oh);
  t.row_tasks = fc_ceil_div(p->oh, t.rb);
  int64_t n;
  t.scratch_elems = fc_mul(t.rb + p->kh - 1, wcols, &n) && n <= INT64_MAX / 64 ? n : -1;
  return t;
}

#define T float
#define FC_(x) fc_f32_##x
#define UKERNEL f32_correlate
#define UKERNEL_T fc_f32_correlate_ukernel
#include "correlate-impl.h"
#undef T
#undef FC_
#undef UKERNEL
#undef UKERNEL_T

#define T double
#define FC_(x) fc_f64_##x
#define UKERNEL f64_correlate
#define UKERNEL_T fc_f64_correlate_ukernel
#include "correlate-impl.h"
#undef T
#undef FC_
#undef UKERNEL
#undef UKERNEL_T

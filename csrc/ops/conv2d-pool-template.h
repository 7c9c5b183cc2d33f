/* Template of conv2d fused with the max-pool that follows it, for one dtype:
 * forward, and the weight gradient.
 *
 * A CNN's convolution output is often only pooled: the lecture's model
 * writes 32 x 26 x 26 x 28 floats (2.4 MB) per step, reads them back to pool,
 * then in the backward pass scatters the pooled gradient into a zeroed array
 * of that size and reads it again (packed) for the weight gradient. Here the
 * convolution output and its gradient live only band by band, in thread
 * scratch that stays in L1/L2:
 *
 * - forward: the conv output of a band of pooled rows is computed by the
 *   indirect-GEMM tiles into scratch, then pooled by the max-pool row
 *   microkernel; y is exactly max_pool2d's on the conv output, and each
 *   output's winner is recorded as a one-byte code, its place in its window
 *   (max_pool2d's int64 positions cost 8 bytes each to write and read back).
 * - weight gradient: the band's conv-output gradient is written straight
 *   into scratch laid out as the GEMM's packed B panels, every element once
 *   (the pooled gradient where the code names that place, else zero: no
 *   clearing pass, no scattered read-modify-writes), and the band's pixels
 *   are added to gw by the weight-gradient GEMM; the bias gradient is summed
 *   on the way.
 *
 * Channels-last only, and windows that tile the conv output without overlap
 * or padding (stride == kernel, dilation 1, pad 0: Keras' MaxPooling2D
 * default); other cases go through the separate ops. Geometries a special
 * kernel family fits (convpool.inc: the lecture's one-channel 3x3, 'valid'
 * or 'same') run it, a padded layer's on copies of its input rows with their
 * zeros.
 *
 * Included once by f32-conv2d-pool.c and by f64-conv2d-pool.c, which define
 * the entry points' full names CONV2D_MAXPOOL (fc_f32_conv2d_maxpool, ...) and
 * CONV2D_MAXPOOL_BACKWARD_WEIGHT, T (float, double), LOCAL(x), the dtype's
 * names (fc_f32_##x, fc_f64_##x), and TABLE(x), its members of the dispatch
 * table (f32_##x, f64_##x): the conv+pool kernels, and the channels-last
 * max-pool row microkernel that gives window codes and its inverse for the
 * gradient. */
#include <stdlib.h>
#include <string.h>
#include "conv2d-internal.h"

static int LOCAL(conv_pool_check)(const fc_conv2d_params *p, const fc_pool2d_params *q) {
  const int st = fc_conv2d_check(p);
  if (st != FC_OK) return st;
  if (p->layout != FC_NHWC || q->layout != FC_NHWC || q->n != p->n || q->c != p->k ||
      q->h != p->oh || q->w != p->ow || q->kernel_h < 1 || q->kernel_w < 1 ||
      q->stride_h != q->kernel_h || q->stride_w != q->kernel_w || q->dil_h != 1 ||
      q->dil_w != 1 || q->pad_top != 0 || q->pad_left != 0 || q->oh != p->oh / q->kernel_h ||
      q->ow != p->ow / q->kernel_w || q->kernel_h > 256 || q->kernel_w > 256 ||
      q->kernel_h * q->kernel_w > 256)
    return FC_EINVAL; /* codes are bytes */
  return FC_OK;
}

/* pooled rows per band: the band's conv output (or its gradient panels)
 * within `bytes` of scratch, and bands enough to keep every thread busy */
static int64_t LOCAL(pool_band_rows)(const fc_conv2d_params *p, const fc_pool2d_params *q,
                                     int64_t width, int64_t bytes) {
  const int64_t row_bytes = q->kernel_h * p->ow * width * (int64_t)sizeof(T);
  int64_t pb = fc_max64(1, fc_min64(q->oh, bytes / fc_max64(1, row_bytes)));
  while (pb > 1 && p->n * fc_ceil_div(q->oh, pb) < 4 * (int64_t)fc_get_num_threads()) pb--;
  return pb;
}

/* The first special kernel of the table (convpool.inc) whose predicate
 * accepts this geometry, or NULL: then the banded path below. */
static const LOCAL(convpool_entry) *LOCAL(convpool_special)(const fc_conv2d_params *p,
                                                            const fc_pool2d_params *q) {
  const fc_ukernel_table *tab = fc_table();
  for (int i = 0; i < FC_MAX_CONVPOOL && tab->TABLE(convpool)[i].fn; i++)
    if (tab->TABLE(convpool)[i].fits(p, q)) return &tab->TABLE(convpool)[i];
  return NULL;
}

/* A special kernel's input rows for a pooled row (those of its windows'
 * conv rows' taps) and their values each (those of its windows' conv
 * columns' taps): one input channel, so an image is h rows of w values. */
static int64_t LOCAL(convpool_in_rows)(const fc_conv2d_params *p, const fc_pool2d_params *q) {
  return q->kernel_h + p->r - 1;
}
static int64_t LOCAL(convpool_in_len)(const fc_conv2d_params *p, const fc_pool2d_params *q) {
  return q->ow * q->kernel_w + p->s - 1;
}

/* Whether a special kernel reads its input in place: no padding, and every
 * pooled row's input rows and columns inside the image; else each pooled row
 * reads a copy of them with their zero padding, a thread's copy
 * fc_padded_rows_stride values apart from the next thread's. */
static int LOCAL(convpool_in_place)(const fc_conv2d_params *p, const fc_pool2d_params *q) {
  return p->pad_top == 0 && p->pad_left == 0 &&
         (q->oh - 1) * q->kernel_h + LOCAL(convpool_in_rows)(p, q) <= p->h &&
         LOCAL(convpool_in_len)(p, q) <= p->w;
}

/* A special kernel's input for pooled row u (image, pooled row): its first
 * input row in place (rows NULL), or the first of their padded copy in rows;
 * *ldx the values from one row to the next. */
static const T *LOCAL(convpool_row_input)(const fc_conv2d_params *p, const fc_pool2d_params *q,
                                          const T *x, int64_t u, T *rows, size_t *ldx) {
  const int64_t ni = u / q->oh, py = u % q->oh, ih = py * q->kernel_h - p->pad_top;
  if (!rows) {
    *ldx = (size_t)(p->w * p->c);
    return x + (ni * p->h + ih) * p->w * p->c;
  }
  const int64_t len = LOCAL(convpool_in_len)(p, q);
  fc_copy_padded_rows(x + ni * p->h * p->w, p->h, p->w, ih, LOCAL(convpool_in_rows)(p, q),
                      p->pad_left, len, sizeof(T), rows);
  *ldx = (size_t)len;
  return rows;
}

/* Scratch for nt threads' padded rows, or NULL in *rows when the kernel
 * reads in place; FC_ENOMEM if it cannot be had. */
static int LOCAL(convpool_rows_alloc)(const fc_conv2d_params *p, const fc_pool2d_params *q, int nt,
                                      T **rows, int64_t *stride) {
  *rows = NULL;
  *stride = fc_padded_rows_stride(LOCAL(convpool_in_rows)(p, q), LOCAL(convpool_in_len)(p, q),
                                  sizeof(T));
  if (LOCAL(convpool_in_place)(p, q)) return FC_OK;
  *rows = fc_alloc((size_t)fc_sat_mul(fc_sat_mul(nt, *stride), (int64_t)sizeof(T)));
  return *rows ? FC_OK : FC_ENOMEM;
}

/* A special kernel's tasks: pooled rows u0..u1 (image, pooled row). */
typedef struct {
  const fc_conv2d_params *p;
  const fc_pool2d_params *q;
  const T *x, *w, *bias;
  T *y, *rows; /* rows: the threads' padded rows, stride apart, or NULL */
  int64_t stride;
  uint8_t *code;
  LOCAL(convpool_ukernel) direct;
} LOCAL(convpool_special_ctx);

static void LOCAL(convpool_special_rows)(void *arg, int tid, int64_t u0, int64_t u1) {
  const LOCAL(convpool_special_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const fc_pool2d_params *q = c->q;
  const int64_t K = p->k;
  T *rows = c->rows ? c->rows + tid * c->stride : NULL;
  for (int64_t u = u0; u < u1; u++) {
    size_t ldx;
    const T *in = LOCAL(convpool_row_input)(p, q, c->x, u, rows, &ldx);
    c->direct(in, ldx, (size_t)q->ow, (size_t)K, c->w, c->bias, c->y + u * q->ow * K,
              c->code ? c->code + u * q->ow * K : NULL);
  }
}

/* The banded kernel's region: the (image, band) tasks a thread claims (its own
 * run first, then what the others have not begun), each computed into the
 * thread's band buffer and pooled from there. */
typedef struct {
  const fc_conv2d_params *p;
  const fc_pool2d_params *q;
  const T *x, *zero, *wpack, *bias;
  const T **ind;
  T *y;
  uint8_t *code;
  LOCAL(igemm_entry) uk;
  LOCAL(maxpool_code_ukernel) pool;
  int64_t ks, kc, pb, nb, band_px, band_ptrs, npad, tblock, ntasks;
  atomic_int failed;
  fc_claims next;
} LOCAL(convpool_ctx);

static void LOCAL(convpool_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(convpool_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const fc_pool2d_params *q = c->q;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count, K = p->k;
  const int64_t kd = c->ks * c->kc, kh = q->kernel_h, img_in = p->h * p->w * p->c, prow = q->ow * K;
  T *buf = fc_alloc((size_t)(c->band_px * K) * sizeof(T));
  if (!buf) {
    atomic_store(&c->failed, 1);
    return;
  }
  int step = 0;
  int64_t t, end;
  while ((t = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
    const int64_t ni = t / c->nb, b = t % c->nb, py0 = b * c->pb, pn = fc_min64(c->pb, q->oh - py0);
    for (int64_t g = 0; g < g_count; g++)
      LOCAL(igemm_tiles)(c->uk, c->ks, c->kc, kg, c->tblock, c->ind + b * c->band_ptrs, pn * kh * p->ow,
                         (size_t)(ni * img_in + g * cg), 1, c->zero, c->wpack + g * c->npad * kd,
                         c->bias ? c->bias + g * kg : NULL, buf + g * kg, K);
    fc_pool2d_params lp = *q; /* the band as an image of pn * kh rows */
    lp.n = 1, lp.h = pn * kh, lp.oh = pn;
    for (int64_t oy = 0; oy < pn; oy++) {
      const int64_t at = ((ni * q->oh) + py0 + oy) * prow;
      c->pool(&lp, buf, oy, c->y + at, c->code ? c->code + at : NULL);
    }
  }
  free(buf);
}

/* y = max_pool2d(conv2d(x, w, bias)) with w as (r, s, c/groups, k),
 * channels-last throughout, and code (may be NULL) each output's window code. */
int CONV2D_MAXPOOL(const fc_conv2d_params *p, const fc_pool2d_params *q, const T *x,
                   const T *w_rsck, const T *bias, T *y, uint8_t *code) {
  const int st = LOCAL(conv_pool_check)(p, q);
  if (st != FC_OK || p->n == 0 || q->oh == 0 || q->ow == 0) return st;
  const LOCAL(convpool_entry) *special = LOCAL(convpool_special)(p, q);
  if (special) { /* one task per pooled row */
    const int64_t units = p->n * q->oh, K = p->k, taps = p->r * p->s * (p->c / p->groups);
    const int64_t flops = 2 * p->n * K * p->oh * p->ow * taps; /* fits: fc_conv2d_check */
    const int nt = fc_threads_for(FC_NS_FLOPS(flops), units);
    T *rows;
    int64_t stride;
    if (LOCAL(convpool_rows_alloc)(p, q, nt, &rows, &stride) != FC_OK) return FC_ENOMEM;
    LOCAL(convpool_special_ctx) c = {p, q, x, w_rsck, bias, y, rows, stride, code, special->fn};
    const int r = fc_parallel_for(nt, units, 4, LOCAL(convpool_special_rows), &c);
    free(rows);
    return r;
  }
  const int merge = LOCAL(igemm_merge_rows)(p);
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count, K = p->k;
  const int64_t ks = merge ? p->r : p->r * p->s, kc = merge ? p->s * cg : cg; /* taps, depth each */
  const int64_t kd = ks * kc, kh = q->kernel_h;
  const int64_t pb = LOCAL(pool_band_rows)(p, q, K, 96 << 10), nb = fc_ceil_div(q->oh, pb);
  const int64_t band_px = pb * kh * p->ow; /* conv pixels of a full band */
  const fc_ukernel_table *tab = fc_table();
  const LOCAL(igemm_entry) uk = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, band_px, kg)];
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr;
  const int64_t npad = fc_ceil_div(kg, nr) * nr, band_ptrs = fc_ceil_div(band_px, mr) * mr * ks;
  int64_t nptr, wsize, tmp;
  if (!fc_mul(nb, band_ptrs, &nptr) || !fc_mul(npad, kd, &tmp) || !fc_mul(tmp, g_count, &wsize))
    return FC_EOVERFLOW;
  T *wpack = fc_alloc((size_t)wsize * sizeof(T));
  T *zero = calloc((size_t)kc, sizeof(T));
  const T **ind = fc_alloc((size_t)nptr * sizeof(T *));
  if (!wpack || !zero || !ind) {
    free(wpack), free(zero), free((void *)ind);
    return FC_ENOMEM;
  }
  for (int64_t g = 0; g < g_count; g++)
    LOCAL(pack_panels)(w_rsck + g * kg, kg, kd, 1, K, (size_t)nr, kd, wpack + g * npad * kd);
  /* one pointer table per band, shared by every image */
  for (int64_t b = 0; b < nb; b++) {
    const int64_t r0 = b * pb * kh, r1 = fc_min64(q->oh, (b + 1) * pb) * kh;
    LOCAL(igemm_pointers)(p, x, zero, r0 * p->ow, r1 * p->ow, (size_t)mr, merge, ind + b * band_ptrs);
  }
  const int64_t tblock = LOCAL(igemm_tap_block)(ks, kc);
  const int64_t ntasks = p->n * nb;
  const int nthreads = fc_threads_for(FC_NS_FLOPS(2 * p->n * K * p->oh * p->ow * kd), ntasks);
  LOCAL(convpool_ctx) c = {p, q, x, zero, wpack, bias, ind, y, code, uk, tab->TABLE(maxpool_code),
                           ks, kc, pb, nb, band_px, band_ptrs, npad, tblock, ntasks, 0, {0}};
  fc_claims_init(&c.next, ntasks, 1, nthreads);
  const int r = fc_parallel(nthreads, LOCAL(convpool_thread), &c);
  free(wpack), free(zero), free((void *)ind);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

/* The conv-output gradient of pooled rows [py0, py0 + pn) of image ni, as the
 * weight-gradient GEMM's packed B panels: panel P (group P / npanels, lanes
 * the group's channels from P % npanels * nr) at buf + P * px * nr, pixel i
 * of the band at + i * nr. Each element is written once: the pooled
 * gradient where its output's code names the pixel, else zero (the columns
 * past the last window too). Returns nonzero if a code lies outside its
 * window. The bias gradient of these outputs is added to bsum (if given). */
static int LOCAL(unpool_band)(const fc_conv2d_params *p, const fc_pool2d_params *q, int64_t npanels,
                              int64_t nr, const T *gy, const uint8_t *code, int64_t ni, int64_t py0,
                              int64_t pn, T *buf, T *bsum) {
  const int64_t K = p->k, kg = K / p->groups, np = p->groups * npanels;
  const int64_t kh = q->kernel_h, kw = q->kernel_w, ow = p->ow, pw = q->ow;
  const int64_t px = pn * kh * ow;
  const size_t places = (size_t)(kh * kw);
  const LOCAL(unpool_code_ukernel) unpool = fc_table()->TABLE(unpool_code);
  T *dst[256]; /* each window place's pixel in the panel */
  unsigned top = 0; /* the largest code seen */
  for (int64_t py = 0; py < pn; py++) {
    for (int64_t ox = 0; ox < pw; ox++) {
      const int64_t o = (ni * q->oh + py0 + py) * pw + ox;
      const T *g_o = gy + o * K;
      const uint8_t *c_o = code + o * K;
      for (int64_t k = 0; k < K; k++) top = c_o[k] > top ? c_o[k] : top;
      if (bsum)
        for (int64_t k = 0; k < K; k++) bsum[k] += g_o[k];
      for (int64_t P = 0; P < np; P++) {
        const int64_t j0 = P % npanels * nr, k0 = P / npanels * kg + j0;
        for (int64_t dy = 0; dy < kh; dy++)
          for (int64_t dx = 0; dx < kw; dx++)
            dst[dy * kw + dx] = buf + (P * px + (py * kh + dy) * ow + ox * kw + dx) * nr;
        unpool((size_t)fc_min64(nr, kg - j0), (size_t)nr, places, g_o + k0, c_o + k0, dst);
      }
    }
    if (pw * kw < ow) /* columns no window covers */
      for (int64_t r = py * kh; r < (py + 1) * kh; r++)
        for (int64_t P = 0; P < np; P++)
          memset(buf + (P * px + r * ow + pw * kw) * nr, 0, (size_t)((ow - pw * kw) * nr) * sizeof(T));
  }
  return top >= (unsigned)(kh * kw);
}

/* gw ((r, s, c/groups, k), as the weight) and gb (k, or NULL) of
 * conv2d for the gradient gy of the max-pool over its output, code being the
 * pool's window codes (as conv2d_maxpool gives them). FC_EINVAL if a code
 * lies outside its window. */
/* A special kernel's weight gradient: image groups gi0..gi1, each into its
 * own partials (the weight's wsize values, then the bias's K); `top` collects
 * the largest code the kernel saw. */
typedef struct {
  const fc_conv2d_params *p;
  const fc_pool2d_params *q;
  const T *x, *gy;
  const uint8_t *code;
  T *gb, *part, *rows; /* rows: the threads' padded rows, stride apart, or NULL */
  LOCAL(convpool_wgrad_ukernel) direct;
  int64_t per, wsize, KK, stride;
  atomic_uint top;
} LOCAL(convpool_special_wgrad_ctx);

static void LOCAL(convpool_special_wgrad_groups)(void *arg, int tid, int64_t gi0, int64_t gi1) {
  LOCAL(convpool_special_wgrad_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const fc_pool2d_params *q = c->q;
  const int64_t K = p->k;
  T *rows = c->rows ? c->rows + tid * c->stride : NULL;
  unsigned top = 0;
  for (int64_t gi = gi0; gi < gi1; gi++) {
    T *acc = c->part + gi * c->KK;
    for (int64_t u = gi * c->per * q->oh; u < fc_min64(p->n, (gi + 1) * c->per) * q->oh; u++) {
      size_t ldx;
      const T *in = LOCAL(convpool_row_input)(p, q, c->x, u, rows, &ldx);
      const unsigned t = c->direct(in, ldx, (size_t)q->ow, (size_t)K, c->gy + u * q->ow * K,
                                   c->code + u * q->ow * K, acc, c->gb ? acc + c->wsize : NULL);
      top = t > top ? t : top;
    }
  }
  unsigned seen = atomic_load(&c->top);
  while (top > seen && !atomic_compare_exchange_weak(&c->top, &seen, top)) {
  }
}

/* The banded weight gradient's region: chunks of (image, band) units, each
 * claimed by one thread (fc_wgrad_parts: conv2d's weight gradient's chunks), each
 * band's conv-output gradient rebuilt in the thread's buffer and added to the
 * chunk's partial (and its bias partial). */
typedef struct {
  const fc_conv2d_params *p;
  const fc_pool2d_params *q;
  const LOCAL(wgrad_ctx) *ctx;
  const T *gy;
  const uint8_t *code;
  T *bpart;
  int64_t pb, nb, units, band_size;
  fc_claims chunks;
  atomic_int failed, bad_code;
} LOCAL(convpool_wgrad_run);

static void LOCAL(convpool_wgrad_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(convpool_wgrad_run) *w = arg;
  const fc_conv2d_params *p = w->p;
  const fc_pool2d_params *q = w->q;
  const int64_t kh = q->kernel_h, nr = (int64_t)w->ctx->uk.nr, npanels = w->ctx->npanels;
  T *buf = fc_alloc((size_t)w->band_size * sizeof(T));
  if (!buf) { /* (the others take this thread's chunks; the call then fails) */
    atomic_store(&w->failed, 1);
    return;
  }
  int step = 0;
  int64_t ch, end;
  while ((ch = fc_claims_next(&w->chunks, tid, &step, &end)) >= 0) {
    int64_t u0, u1;
    fc_share(w->units, (int)ch, w->ctx->nparts, &u0, &u1);
    int fresh = 1; /* the chunk's partial not written yet */
    for (int64_t u = u0; u < u1; u++) {
      const int64_t ni = u / w->nb, py0 = u % w->nb * w->pb, pn = fc_min64(w->pb, q->oh - py0);
      const int64_t px = pn * kh * p->ow;
      if (LOCAL(unpool_band)(p, q, npanels, nr, w->gy, w->code, ni, py0, pn, buf,
                             w->bpart ? w->bpart + ch * p->k : NULL)) {
        atomic_store(&w->bad_code, 1);
        continue;
      }
      LOCAL(wgrad_rows)(w->ctx, tid, (int)ch, fresh, ni, py0 * kh, pn * kh, buf, npanels * px * nr,
                        px * nr, 0, w->ctx->kd);
      fresh = 0;
    }
  }
  free(buf);
}

int CONV2D_MAXPOOL_BACKWARD_WEIGHT(const fc_conv2d_params *p, const fc_pool2d_params *q,
                                   const T *x, const T *gy, const uint8_t *code, T *gw,
                                   T *gb) {
  int st = LOCAL(conv_pool_check)(p, q);
  if (st != FC_OK) return st;
  const int64_t K = p->k, kh = q->kernel_h;
  if (gb) memset(gb, 0, (size_t)K * sizeof(T));
  if (p->n == 0 || q->oh == 0 || q->ow == 0) {
    memset(gw, 0, (size_t)(K * (p->c / p->groups) * p->r * p->s) * sizeof(T));
    return FC_OK;
  }
  const LOCAL(convpool_entry) *special = LOCAL(convpool_special)(p, q);
  if (special) {
    /* images in at most 256 fixed groups, each summed into its own partials
     * (the weight gradient, then the bias's), added up in group order at the
     * end: the result depends on neither the thread count nor the schedule */
    const int64_t taps = p->r * p->s * (p->c / p->groups), wsize = taps * K;
    const int64_t per = fc_ceil_div(p->n, 256), groups = fc_ceil_div(p->n, per), KK = wsize + K;
    const int nt = fc_threads_for(
        FC_NS_FLOPS(2 * p->n * K * q->oh * q->ow * taps) * FC_CONVPOOL_WGRAD_SLOWDOWN, groups);
    T *part = calloc((size_t)(groups * KK), sizeof(T)), *rows;
    int64_t stride;
    if (!part || LOCAL(convpool_rows_alloc)(p, q, nt, &rows, &stride) != FC_OK) {
      free(part);
      return FC_ENOMEM;
    }
    LOCAL(convpool_special_wgrad_ctx) c = {p, q, x, gy, code, gb, part, rows,
                                           special->wgrad, per, wsize, KK, stride, 0};
    const int r = fc_parallel_for(nt, groups, 1, LOCAL(convpool_special_wgrad_groups), &c);
    free(rows);
    if (r != FC_OK) {
      free(part);
      return r;
    }
    const unsigned top = atomic_load(&c.top), ok = top < (unsigned)(q->kernel_h * q->kernel_w);
    if (ok) {
      memset(gw, 0, (size_t)wsize * sizeof(T));
      for (int64_t gi = 0; gi < groups; gi++) {
        for (int64_t i = 0; i < wsize; i++) gw[i] += part[gi * KK + i];
        if (gb)
          for (int64_t k = 0; k < K; k++) gb[k] += part[gi * KK + wsize + k];
      }
    }
    free(part);
    return ok ? FC_OK : FC_EINVAL;
  }
  const fc_ukernel_table *tab = fc_table();
  const int64_t kd0 = p->r * p->s * (p->c / p->groups);
  const LOCAL(igemm_entry) uk0 = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, kd0, K / p->groups)];
  const int64_t npad0 = fc_ceil_div(K / p->groups, (int64_t)uk0.nr) * (int64_t)uk0.nr;
  const int64_t pb = LOCAL(pool_band_rows)(p, q, npad0 * p->groups, 96 << 10);
  const int64_t nb = fc_ceil_div(q->oh, pb), units = p->n * nb;
  const int64_t flops = 2 * K * (p->c / p->groups) * p->r * p->s * p->n * q->oh * kh * p->ow;
  LOCAL(wgrad_ctx) ctx;
  const int nthreads = fc_threads_for(FC_NS_FLOPS(flops), units);
  st = LOCAL(wgrad_setup)(&ctx, p, x, uk0, nthreads, fc_wgrad_parts(nthreads, units), NULL);
  if (st != FC_OK) return st;
  const int64_t nr = (int64_t)ctx.uk.nr, npanels = ctx.npanels;
  const int64_t band_px = pb * kh * p->ow, band_size = p->groups * npanels * band_px * nr;
  T *bpart = gb ? calloc((size_t)(ctx.nparts * K), sizeof(T)) : NULL;
  if (gb && !bpart) {
    LOCAL(wgrad_free)(&ctx);
    return FC_ENOMEM;
  }
  LOCAL(convpool_wgrad_run) run = {p, q, &ctx, gy, code, bpart, pb, nb, units, band_size, {0}, 0, 0};
  fc_claims_init(&run.chunks, ctx.nparts, 1, ctx.nthreads);
  st = fc_parallel(ctx.nthreads, LOCAL(convpool_wgrad_thread), &run);
  const int failed = st != FC_OK || atomic_load(&run.failed), bad_code = atomic_load(&run.bad_code);
  if (!failed && !bad_code) { /* the partials added in chunk order */
    LOCAL(wgrad_finish)(&ctx, gw, 1);
    if (gb)
      for (int part = 0; part < ctx.nparts; part++)
        for (int64_t k = 0; k < K; k++) gb[k] += bpart[part * K + k];
  }
  LOCAL(wgrad_free)(&ctx);
  free(bpart);
  return st != FC_OK ? st : failed ? FC_ENOMEM : bad_code ? FC_EINVAL : FC_OK;
}

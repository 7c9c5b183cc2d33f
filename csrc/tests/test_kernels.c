/* C-level test driver: every kernel entry point against a plain-loop
 * reference, for random shapes and options, under every ISA this CPU runs.
 * Exercises the kernels without Python, so it can run under ASan/UBSan
 * (tools/sanitize.sh) and on arm64 under qemu (tools/cross-arm64.sh).
 * Prints one line per failure and "N passed, N failed"; exit 1 on failure. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastconv/fastconv.h"
#include "fastconv/ukernel.h"
#include "../ops/boundary.h"
#include "../ops/internal.h"

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static int64_t rnd(int64_t lo, int64_t hi) { /* inclusive */
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return lo + (int64_t)(rng_state % (unsigned long long)(hi - lo + 1));
}
static double rndf(void) { return (double)rnd(-1000, 1000) / 500.0; }

static int passed, failed;
static void check(int ok, const char *what, const char *isa, int64_t caseno) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAIL %s [%s] case %lld\n", what, isa, (long long)caseno);
  }
}

/* index of (n, c, h, w) in NCHW or NHWC */
static int64_t at4(int nhwc, int64_t n, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H,
                   int64_t W) {
  return nhwc ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}
/* weight (k, c, r, s): NCHW (K, Cg, R, S), NHWC (R, S, Cg, K) */
static int64_t atw(int nhwc, int64_t k, int64_t c, int64_t r, int64_t s, int64_t K, int64_t Cg,
                   int64_t R, int64_t S) {
  return nhwc ? ((r * S + s) * Cg + c) * K + k : ((k * Cg + c) * R + r) * S + s;
}

/* PyTorch's pooled length: (n + 2 pad - span) / stride + 1, the division
 * rounded down or (ceil mode) up, less one if ceil mode would start the last
 * window in the right padding */
static int64_t pool_out(int64_t n, int64_t k, int64_t s, int64_t d, int64_t pad, int ceil_mode) {
  const int64_t e = n + 2 * pad - (k - 1) * d - 1 + (ceil_mode ? s - 1 : 0);
  int64_t o = e / s - (e % s != 0 && e < 0) + 1;
  if (ceil_mode && (o - 1) * s >= n + pad) o--;
  return o;
}

/* conv2d + max-pool fused against the separate ops (themselves checked against
 * plain loops), and its weight/bias gradient against max_pool2d_backward then
 * conv2d_backward_weight; y is the conv output of (p, x, w, b). */
#define DEFINE_CONV_POOL_TESTS(dtype, T, tol)                                                   \
  static void dtype##_conv_pool_case(const fc_conv2d_params *p, const T *x, const T *w,         \
                                     const T *b, const T *y, int pool2, const char *isa,        \
                                     int64_t caseno) {                                          \
    fc_pool2d_params q = {p->n, p->k, p->oh, p->ow, 0, 0, rnd(1, 3), rnd(1, 3), 0, 0, 1, 1, 0, 0, FC_NHWC}; \
    if (pool2) q.kernel_h = q.kernel_w = 2;                                                     \
    q.stride_h = q.kernel_h, q.stride_w = q.kernel_w;                                           \
    q.oh = p->oh / q.kernel_h, q.ow = p->ow / q.kernel_w;                                       \
    if (q.oh == 0 || q.ow == 0) return;                                                         \
    const int64_t ny = q.n * q.c * q.oh * q.ow, nz = p->n * p->k * p->oh * p->ow;               \
    const int64_t cg = p->c / p->groups, nw = p->k * cg * p->r * p->s, K = p->k;               \
    T *yp = malloc(sizeof(T) * ny), *yr = malloc(sizeof(T) * ny), *gy = malloc(sizeof(T) * ny); \
    T *gz = malloc(sizeof(T) * nz), *gw = malloc(sizeof(T) * nw), *gwr = malloc(sizeof(T) * nw); \
    T *gb = malloc(sizeof(T) * K);                                                              \
    uint8_t *code = malloc(ny);                                                                 \
    int64_t *idxr = malloc(sizeof(int64_t) * ny);                                               \
    for (int64_t i = 0; i < ny; i++) gy[i] = (T)rndf();                                         \
    int ok = fc_##dtype##_max_pool2d(&q, y, yr, idxr) == FC_OK &&                               \
             fc_##dtype##_conv2d_maxpool(p, &q, x, w, b, yp, code) == FC_OK;                    \
    /* the code names max_pool2d's position within the window of output i */                   \
    for (int64_t i = 0; ok && i < ny; i++) {                                                    \
      const int64_t px_ = i / K % q.ow, py_ = i / K / q.ow % q.oh;                               \
      const int64_t dy = idxr[i] / p->ow - py_ * q.kernel_h, dx = idxr[i] % p->ow - px_ * q.kernel_w; \
      ok = yp[i] == yr[i] && code[i] == dy * q.kernel_w + dx;                                   \
    }                                                                                           \
    check(ok, #dtype " conv2d_maxpool", isa, caseno);                                           \
    ok = fc_##dtype##_max_pool2d_backward(&q, gy, idxr, gz) == FC_OK &&                         \
         fc_##dtype##_conv2d_backward_weight(p, x, gz, gwr) == FC_OK &&                         \
         fc_##dtype##_conv2d_maxpool_backward_weight(p, &q, x, gy, code, gw, gb) == FC_OK;      \
    /* both (tap, c, k), NHWC's weight order */                                                 \
    for (int64_t i = 0; ok && i < nw; i++)                                                      \
      if (fabs((double)gw[i] - gwr[i]) > 10 * tol * (1 + fabs((double)gwr[i]))) ok = 0;         \
    for (int64_t k = 0; ok && k < K; k++) {                                                     \
      double want = 0;                                                                          \
      for (int64_t o = 0; o < ny / K; o++) want += gy[o * K + k];                               \
      ok = fabs(gb[k] - want) <= 10 * tol * (1 + fabs(want));                                   \
    }                                                                                           \
    check(ok, #dtype " conv2d_maxpool_backward_weight", isa, caseno);                           \
    code[ny - 1] = (uint8_t)(q.kernel_h * q.kernel_w); /* outside its window: refused */        \
    check(fc_##dtype##_conv2d_maxpool_backward_weight(p, &q, x, gy, code, gw, gb) == FC_EINVAL, \
          #dtype " conv2d_maxpool_backward rejects bad index", isa, caseno);                    \
    q.dil_w = 2; /* dilated windows are not fused */                                            \
    check(fc_##dtype##_conv2d_maxpool(p, &q, x, w, b, yp, code) == FC_EINVAL,                   \
          #dtype " conv2d_maxpool rejects dilation 2", isa, caseno);                            \
    q.dil_w = 1, q.stride_h = q.kernel_h + 1; /* overlapping or gapped windows are not fused */ \
    check(fc_##dtype##_conv2d_maxpool(p, &q, x, w, b, yp, code) == FC_EINVAL,                   \
          #dtype " conv2d_maxpool rejects stride != kernel", isa, caseno);                      \
    free(yp), free(yr), free(gy), free(gz), free(gw), free(gwr), free(gb), free(code), free(idxr); \
  }                                                                                             \
  /* dense products and the fused Adam step against plain double loops */                      \
  static void dtype##_dense_case(const char *isa, int64_t caseno) {                             \
    /* a fifth of the cases with more units than a depth block (256); a tenth with features */ \
    /* enough for the forward's and the sweep's owned ranges at two threads (1,536 up) */       \
    const int64_t n = rnd(1, 40), k = rnd(0, 9) ? rnd(1, 300) : rnd(1536, 3200);                \
    const int64_t m = rnd(0, 4) ? rnd(1, 70) : rnd(250, 600);                                   \
    T *x = malloc(sizeof(T) * n * k), *w = malloc(sizeof(T) * k * m), *b = malloc(sizeof(T) * m); \
    T *y = malloc(sizeof(T) * n * m), *gy = malloc(sizeof(T) * n * m);                          \
    T *gx = malloc(sizeof(T) * n * k), *gw = malloc(sizeof(T) * k * m);                         \
    T *mo = calloc(k * m, sizeof(T)), *ve = calloc(k * m, sizeof(T)), *w2 = malloc(sizeof(T) * k * m); \
    for (int64_t i = 0; i < n * k; i++) x[i] = (T)rndf();                                       \
    for (int64_t i = 0; i < k * m; i++) w[i] = w2[i] = (T)rndf();                               \
    for (int64_t i = 0; i < m; i++) b[i] = (T)rndf();                                           \
    for (int64_t i = 0; i < n * m; i++) gy[i] = (T)rndf();                                      \
    /* half the cases: gy mostly zeros (+0 and -0), as a ReLU's and Dropout's gradients are, */  \
    /* so the fused step takes gx by gy's nonzero terms (about 1 in 8 nonzero: below every */    \
    /* ISA's and CPU's limit, 20% the lowest) */                                                 \
    if (rnd(0, 1))                                                                              \
      for (int64_t i = 0; i < n * m; i++)                                                       \
        if (rnd(0, 7)) gy[i] = rnd(0, 1) ? (T)0 : -(T)0;                                        \
    int ok = fc_##dtype##_dense(n, k, m, x, w, b, y) == FC_OK &&                                \
             fc_##dtype##_dense_backward(n, k, m, gy, x, w, gx, gw) == FC_OK;                   \
    for (int64_t i = 0; ok && i < n; i++)                                                       \
      for (int64_t j = 0; ok && j < m; j++) {                                                   \
        double acc = b[j];                                                                      \
        for (int64_t p = 0; p < k; p++) acc += (double)x[i * k + p] * w[p * m + j];            \
        ok = fabs(y[i * m + j] - acc) <= tol * 10 * (1 + fabs(acc));                            \
      }                                                                                         \
    for (int64_t i = 0; ok && i < n; i++)                                                       \
      for (int64_t p = 0; ok && p < k; p++) {                                                   \
        double acc = 0;                                                                         \
        for (int64_t j = 0; j < m; j++) acc += (double)gy[i * m + j] * w[p * m + j];           \
        ok = fabs(gx[i * k + p] - acc) <= tol * 10 * (1 + fabs(acc));                           \
      }                                                                                         \
    for (int64_t p = 0; ok && p < k; p++)                                                       \
      for (int64_t j = 0; ok && j < m; j++) {                                                   \
        double acc = 0;                                                                         \
        for (int64_t i = 0; i < n; i++) acc += (double)x[i * k + p] * gy[i * m + j];           \
        ok = fabs(gw[p * m + j] - acc) <= tol * 10 * (1 + fabs(acc));                           \
      }                                                                                         \
    check(ok, #dtype " dense and dense_backward", isa, caseno);                                 \
    /* the last row alone (the small-batch kernel) has the batch's bits */                      \
    T *row = malloc(sizeof(T) * m);                                                             \
    ok = fc_##dtype##_dense(1, k, m, x + (n - 1) * k, w, b, row) == FC_OK &&                    \
         !memcmp(row, y + (n - 1) * m, sizeof(T) * m);                                          \
    free(row);                                                                                  \
    check(ok, #dtype " dense row alone equals its row in the batch", isa, caseno);               \
    /* and the batch on one thread has the same bits (two threads or more may share the */      \
    /* features out in owned ranges: the same block sums, added in the same order) */           \
    T *y1 = malloc(sizeof(T) * n * m);                                                          \
    const int team = fc_get_num_threads();                                                      \
    fc_set_num_threads(1);                                                                      \
    ok = fc_##dtype##_dense(n, k, m, x, w, b, y1) == FC_OK && !memcmp(y1, y, sizeof(T) * n * m); \
    fc_set_num_threads(team);                                                                   \
    free(y1);                                                                                   \
    check(ok, #dtype " dense on one thread has the batch's bits", isa, caseno);                 \
    /* the fused step equals dense_backward then adam_update, bit for bit; in an eighth of */  \
    /* the cases with an inf or a NaN in w, whose NaNs (0 * inf) gx must keep where gy is 0 */  \
    T *gw2 = malloc(sizeof(T) * k * m), *mo2 = calloc(k * m, sizeof(T)), *ve2 = calloc(k * m, sizeof(T)); \
    T *gx2 = malloc(sizeof(T) * n * k);                                                         \
    if (rnd(0, 7) == 0) {                                                                       \
      const int64_t at = rnd(0, k * m - 1);                                                     \
      w[at] = w2[at] = rnd(0, 1) ? (T)INFINITY : (T)NAN;                                        \
      ok = fc_##dtype##_dense_backward(n, k, m, gy, x, w, gx, gw) == FC_OK;                     \
    }                                                                                           \
    ok = ok && fc_##dtype##_dense_backward_adam(n, k, m, gy, x, w2, gx2, gw2, mo2, ve2, 1e-3, 0.9, 0.999, 1e-7) == FC_OK && \
         fc_##dtype##_adam_update(k * m, w, gw, mo, ve, 1e-3, 0.9, 0.999, 1e-7) == FC_OK;      \
    ok = ok && !memcmp(gw2, gw, sizeof(T) * k * m) && !memcmp(w2, w, sizeof(T) * k * m) &&      \
         !memcmp(mo2, mo, sizeof(T) * k * m) && !memcmp(ve2, ve, sizeof(T) * k * m) &&          \
         !memcmp(gx2, gx, sizeof(T) * n * k);                                                   \
    ok = ok && fc_##dtype##_dense_backward_adam(n, k, m, gy, x, w2, NULL, NULL, mo2, ve2, 1e-3, 0.9, 0.999, 1e-7) == FC_OK; \
    check(ok, #dtype " dense_backward_adam", isa, caseno);                                      \
    free(x), free(w), free(b), free(y), free(gy), free(gx), free(gw), free(mo), free(ve), free(w2); \
    free(gw2), free(mo2), free(ve2), free(gx2);                                                 \
  }

DEFINE_CONV_POOL_TESTS(f32, float, 1e-4)
DEFINE_CONV_POOL_TESTS(f64, double, 1e-11)

#define DEFINE_CONV_TESTS(dtype, T, tol)                                                        \
  static void dtype##_conv_case(const char *isa, int64_t caseno) {                              \
    fc_conv2d_params p;                                                                         \
    p.groups = rnd(1, 3);                                                                       \
    p.n = rnd(1, 3), p.c = p.groups * rnd(1, 9), p.k = p.groups * rnd(1, 20);                   \
    p.h = rnd(1, 12), p.w = rnd(1, 12), p.r = rnd(1, 4), p.s = rnd(1, 4);                       \
    p.stride_h = rnd(1, 3), p.stride_w = rnd(1, 3), p.dil_h = rnd(1, 2), p.dil_w = rnd(1, 2);   \
    p.pad_top = rnd(0, 2), p.pad_left = rnd(0, 2), p.layout = (fc_layout)rnd(0, 1);             \
    /* a quarter of the cases: a CNN's grayscale first layer (one channel, 3x3, 'valid' */     \
    /* or 'same', then a 2x2 pool; ISAs have direct kernels for it), small integers for */     \
    /* exact ties                                                                       */     \
    const int first = rnd(0, 3) == 0;                                                           \
    if (first) {                                                                                \
      p.groups = 1, p.c = 1, p.k = rnd(1, 70), p.h = rnd(1, 16), p.w = rnd(1, 16);              \
      p.r = p.s = 3, p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;                           \
      p.pad_top = rnd(0, 1), p.pad_left = rnd(0, 1), p.layout = (fc_layout)rnd(0, 1);           \
    }                                                                                           \
    /* case 1: a deep layer, whose weight gradient (megabytes) is over half the L2: at 2 */    \
    /* threads or more its rows go across the threads (FC_PLAN_SPLIT_OUTPUT); its few    */    \
    /* pixels run in weight panels (FC_PLAN_PANEL_TASKS), whole ones and a part one      */    \
    if (caseno == 1 && !first) {                                                                \
      p.groups = rnd(1, 2), p.n = 1, p.c = p.groups * rnd(200, 260);                            \
      p.k = p.groups * (rnd(0, 1) ? 256 : rnd(200, 260));                                       \
      p.h = rnd(3, 5), p.w = rnd(3, 5), p.r = p.s = 3;                                          \
      p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1, p.pad_top = p.pad_left = 1;              \
    }                                                                                           \
    /* case 2: a batch of small images with deep taps: tiles of images at one output pixel */  \
    /* (FC_PLAN_POSITION_TILES), the padding's taps skipped                                 */  \
    if (caseno == 2 && !first) {                                                                \
      p.groups = 1, p.n = rnd(6, 14), p.c = rnd(32, 72), p.k = rnd(8, 40);                      \
      p.h = rnd(3, 6), p.w = rnd(3, 6), p.r = p.s = rnd(0, 1) ? 3 : 5;                          \
      p.stride_h = p.stride_w = rnd(1, 2), p.dil_h = p.dil_w = 1;                               \
      p.pad_top = p.pad_left = (p.r - 1) / 2;                                                   \
    }                                                                                           \
    /* case 3: weights of 32 MiB and more (FC_BIG_MIN_BYTES), whose scratch of that size   */  \
    /* (packed or flipped weights, the weight gradient's partials) is a large block, kept  */  \
    /* for the next call: the checks below run on it new and then reused                   */  \
    if (caseno == 3 && !first) {                                                                \
      p.groups = 1, p.n = 1, p.c = (int64_t)(4096 / sizeof(T)), p.k = 1024;                     \
      p.h = p.w = 2, p.r = p.s = 3, p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;            \
      p.pad_top = p.pad_left = 1;                                                               \
    }                                                                                           \
    const int64_t eh = p.h + 2 * p.pad_top - p.dil_h * (p.r - 1) - 1;                           \
    const int64_t ew = p.w + 2 * p.pad_left - p.dil_w * (p.s - 1) - 1;                          \
    if (eh < 0 || ew < 0) return;                                                               \
    p.oh = eh / p.stride_h + 1, p.ow = ew / p.stride_w + 1;                                     \
    const int nhwc = p.layout == FC_NHWC;                                                       \
    const int64_t cg = p.c / p.groups, kg = p.k / p.groups;                                     \
    const int64_t nx = p.n * p.c * p.h * p.w, nw = p.k * cg * p.r * p.s;                        \
    const int64_t ny = p.n * p.k * p.oh * p.ow;                                                 \
    T *x = malloc(sizeof(T) * nx), *w = malloc(sizeof(T) * nw), *b = calloc(p.k, sizeof(T));     \
    T *y = malloc(sizeof(T) * ny), *ref = calloc(ny, sizeof(T)), *gy = malloc(sizeof(T) * ny);  \
    T *gw = malloc(sizeof(T) * nw), *gwr = calloc(nw, sizeof(T));                               \
    T *gx = malloc(sizeof(T) * nx), *gxr = calloc(nx, sizeof(T));                               \
    for (int64_t i = 0; i < nx; i++) x[i] = (T)rndf();                                          \
    for (int64_t i = 0; i < nw; i++) w[i] = (T)rndf();                                          \
    for (int64_t i = 0; i < p.k; i++) b[i] = (T)rndf();                                         \
    for (int64_t i = 0; i < ny; i++) gy[i] = (T)rndf();                                         \
    if (first || caseno == 3) { /* case 3 too: exact float32 sums 9,216 taps deep */         \
      for (int64_t i = 0; i < nx; i++) x[i] = (T)rnd(-2, 2);                                    \
      for (int64_t i = 0; i < nw; i++) w[i] = (T)rnd(-1, 1);                                    \
    }                                                                                           \
    for (int64_t n = 0; n < p.n; n++)                                                           \
      for (int64_t k = 0; k < p.k; k++)                                                         \
        for (int64_t oy = 0; oy < p.oh; oy++)                                                   \
          for (int64_t ox = 0; ox < p.ow; ox++) {                                               \
            const int64_t g = k / kg, yi = at4(nhwc, n, k, oy, ox, p.k, p.oh, p.ow);            \
            double acc = b[k];                                                                  \
            for (int64_t c = 0; c < cg; c++)                                                    \
              for (int64_t r = 0; r < p.r; r++)                                                 \
                for (int64_t s = 0; s < p.s; s++) {                                             \
                  const int64_t ih = oy * p.stride_h - p.pad_top + r * p.dil_h;                 \
                  const int64_t iw = ox * p.stride_w - p.pad_left + s * p.dil_w;                \
                  if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;                     \
                  const int64_t xi = at4(nhwc, n, g * cg + c, ih, iw, p.c, p.h, p.w);          \
                  const int64_t wi = atw(nhwc, k, c, r, s, p.k, cg, p.r, p.s);                  \
                  acc += (double)x[xi] * w[wi];                                                 \
                  gwr[wi] += (T)((double)gy[yi] * x[xi]);                                       \
                  gxr[xi] += (T)((double)gy[yi] * w[wi]);                                       \
                }                                                                               \
            ref[yi] = (T)acc;                                                                   \
          }                                                                                     \
    int ok = fc_##dtype##_conv2d(&p, x, w, b, y) == FC_OK;                                      \
    for (int64_t i = 0; ok && i < ny; i++) ok = fabs((double)y[i] - ref[i]) <= tol * (1 + fabs((double)ref[i])); \
    check(ok, #dtype " conv2d", isa, caseno);                                                   \
    /* the weight kernel returns the layout's weight order, as the reference, and writes */   \
    /* every value of it (a caller may hand it memory it never cleared)                   */   \
    for (int64_t i = 0; i < nw; i++) gw[i] = (T)7;                                              \
    ok = fc_##dtype##_conv2d_backward_weight(&p, x, gy, gw) == FC_OK;                           \
    for (int64_t i = 0; ok && i < nw; i++)                                                      \
      if (fabs((double)gw[i] - gwr[i]) > 10 * tol * (1 + fabs((double)gwr[i]))) ok = 0;         \
    check(ok, #dtype " conv2d_backward_weight", isa, caseno);                                   \
    {                                                                                           \
      T *gb = malloc((size_t)p.k * sizeof(T));                                                  \
      ok = gb && fc_##dtype##_conv2d_backward_bias(&p, gy, gb) == FC_OK;                        \
      for (int64_t k = 0; ok && k < p.k; k++) {                                                 \
        double want = 0, mag = 0;                                                               \
        for (int64_t n = 0; n < p.n; n++)                                                       \
          for (int64_t oy = 0; oy < p.oh; oy++)                                                 \
            for (int64_t ox = 0; ox < p.ow; ox++) {                                             \
              const double v = gy[at4(nhwc, n, k, oy, ox, p.k, p.oh, p.ow)];                    \
              want += v, mag += fabs(v);                                                        \
            }                                                                                   \
        ok = fabs((double)gb[k] - want) <= 10 * tol * (1 + mag);                                \
      }                                                                                         \
      free(gb);                                                                                 \
      check(ok, #dtype " conv2d_backward_bias", isa, caseno);                                   \
    }                                                                                           \
    for (int path = FC_INPUT_GRAD_AUTO; path <= FC_INPUT_GRAD_TRANSPOSED; path++) {             \
      for (int64_t i = 0; i < nx; i++) gx[i] = (T)7;                                            \
      ok = fc_##dtype##_conv2d_input_grad(&p, gy, w, (fc_input_grad_path)path, gx) == FC_OK;    \
      for (int64_t i = 0; ok && i < nx; i++) ok = fabs((double)gx[i] - gxr[i]) <= 10 * tol * (1 + fabs((double)gxr[i])); \
      check(ok, path == FC_INPUT_GRAD_TRANSPOSED ? #dtype " conv2d_input_grad transposed"       \
                : #dtype " conv2d_input_grad col2im/auto", isa, caseno);                        \
    }                                                                                           \
    /* the planners give what the drivers ran, and plan-only calls touch nothing */           \
    for (int pass = 0; pass < 3; pass++) {                                                      \
      fc_plan want, ran;                                                                        \
      ok = (pass == 0   ? fc_##dtype##_conv2d_plan(&p, &want)                                   \
            : pass == 1 ? fc_##dtype##_conv2d_backward_weight_plan(&p, &want)                   \
                        : fc_##dtype##_conv2d_input_grad_plan(&p, w, FC_INPUT_GRAD_AUTO, &want)) == FC_OK; \
      for (int only = 1; ok && only >= 0; only--) {                                             \
        const int64_t runs = fc_plan_runs();                                                    \
        fc_plan_only(only);                                                                     \
        T *const out = pass == 0 ? y : pass == 1 ? gw : gx;                                     \
        const int64_t nout = pass == 0 ? ny : pass == 1 ? nw : nx;                              \
        for (int64_t i = 0; i < nout; i++) out[i] = (T)7;                                       \
        ok = (pass == 0   ? fc_##dtype##_conv2d(&p, x, w, b, y)                                 \
              : pass == 1 ? fc_##dtype##_conv2d_backward_weight(&p, x, gy, gw)                  \
                          : fc_##dtype##_conv2d_input_grad(&p, gy, w, FC_INPUT_GRAD_AUTO, gx)) == FC_OK; \
        fc_plan_only(0);                                                                        \
        ok = ok && fc_last_plan(&ran) && fc_plan_runs() == runs + !only;                        \
        ok = ok && !strcmp(ran.algorithm, want.algorithm) && ran.threads == want.threads &&     \
             ran.scratch_bytes == want.scratch_bytes && ran.mr == want.mr && ran.nr == want.nr && \
             ran.tasks == want.tasks && ran.row_block == want.row_block &&                      \
             (want.kernel == NULL) == (ran.kernel == NULL) &&                                   \
             (want.kernel == NULL || !strcmp(ran.kernel, want.kernel));                         \
        for (int64_t i = 0; ok && only && i < nout; i++) ok = out[i] == (T)7;                   \
      }                                                                                         \
      check(ok, #dtype " conv2d plan is what runs", isa, caseno);                               \
    }                                                                                           \
    if (caseno == 3 && !first) /* the weights' scratch was a large block, kept */              \
      check(fc_big_keep(-1) == 0 || fc_big_kept() >= nw * (int64_t)sizeof(T),                   \
            #dtype " conv2d scratch of 32 MiB kept", isa, caseno);                              \
    if (nhwc) dtype##_conv_pool_case(&p, x, w, b, y, first, isa, caseno);                       \
    free(x), free(w), free(b), free(y), free(ref), free(gy), free(gw), free(gwr), free(gx), free(gxr); \
  }                                                                                             \
  static void dtype##_pool_relu_case(const char *isa, int64_t caseno) {                         \
    fc_pool2d_params p;                                                                         \
    p.n = rnd(1, 3), p.c = rnd(1, 20), p.h = rnd(1, 15), p.w = rnd(1, 40);                      \
    p.kernel_h = rnd(1, 4), p.kernel_w = rnd(1, 4), p.stride_h = rnd(1, 3), p.stride_w = rnd(1, 3); \
    p.dil_h = rnd(0, 1) ? 1 : rnd(1, 4), p.dil_w = rnd(0, 1) ? 1 : rnd(1, 4);                   \
    p.pad_top = rnd(0, p.kernel_h / 2), p.pad_left = rnd(0, p.kernel_w / 2);                    \
    p.layout = (fc_layout)rnd(0, 1);                                                            \
    const int ceil_mode = (int)rnd(0, 1);                                                       \
    p.oh = pool_out(p.h, p.kernel_h, p.stride_h, p.dil_h, p.pad_top, ceil_mode);                \
    p.ow = pool_out(p.w, p.kernel_w, p.stride_w, p.dil_w, p.pad_left, ceil_mode);               \
    if (p.oh < 1 || p.ow < 1) return;                                                           \
    const int nhwc = p.layout == FC_NHWC;                                                       \
    const int64_t nx = p.n * p.c * p.h * p.w, ny = p.n * p.c * p.oh * p.ow;                     \
    T *x = malloc(sizeof(T) * nx), *y = malloc(sizeof(T) * ny), *gy = malloc(sizeof(T) * ny);   \
    T *gx = malloc(sizeof(T) * nx), *gxr = calloc(nx, sizeof(T)), *r = malloc(sizeof(T) * nx);  \
    int64_t *idx = malloc(sizeof(int64_t) * ny);                                                \
    for (int64_t i = 0; i < nx; i++) x[i] = (T)rnd(-5, 5); /* ties on purpose */               \
    for (int64_t i = 0; i < ny; i++) gy[i] = (T)rndf();                                         \
    const int st = fc_##dtype##_max_pool2d(&p, x, y, idx);                                      \
    int ok = 1, empty = 0;                                                                      \
    for (int64_t n = 0; n < p.n; n++)                                                           \
      for (int64_t c = 0; c < p.c; c++)                                                         \
        for (int64_t oy = 0; oy < p.oh; oy++)                                                   \
          for (int64_t ox = 0; ox < p.ow; ox++) {                                               \
            T best = -(T)INFINITY;                                                              \
            int64_t pos = -1;                                                                   \
            for (int64_t i = 0; i < p.kernel_h; i++)                                            \
              for (int64_t j = 0; j < p.kernel_w; j++) {                                        \
                const int64_t ih = oy * p.stride_h - p.pad_top + i * p.dil_h;                   \
                const int64_t iw = ox * p.stride_w - p.pad_left + j * p.dil_w;                  \
                if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;                       \
                const T v = x[at4(nhwc, n, c, ih, iw, p.c, p.h, p.w)];                          \
                if (pos < 0 || v > best) best = v, pos = ih * p.w + iw;                         \
              }                                                                                 \
            if (pos < 0) { /* a window of padding only: the call is refused */                  \
              empty = 1;                                                                        \
              continue;                                                                         \
            }                                                                                   \
            const int64_t yi = at4(nhwc, n, c, oy, ox, p.c, p.oh, p.ow);                        \
            if (st == FC_OK && (y[yi] != best || idx[yi] != pos)) ok = 0;                       \
            gxr[at4(nhwc, n, c, pos / p.w, pos % p.w, p.c, p.h, p.w)] += gy[yi];                \
          }                                                                                     \
    if (empty) {                                                                                \
      check(st == FC_EINVAL, #dtype " max_pool2d rejects windows of padding only", isa, caseno); \
      free(x), free(y), free(gy), free(gx), free(gxr), free(r), free(idx);                      \
      return;                                                                                   \
    }                                                                                           \
    check(st == FC_OK && ok, #dtype " max_pool2d", isa, caseno);                                \
    ok = fc_##dtype##_max_pool2d_backward(&p, gy, idx, gx) == FC_OK;                            \
    for (int64_t i = 0; ok && i < nx; i++) ok = fabs((double)gx[i] - gxr[i]) <= tol * (1 + fabs((double)gxr[i])); \
    check(ok, #dtype " max_pool2d_backward", isa, caseno);                                      \
    idx[0] = nx; /* out of range: must be refused, not written */                               \
    check(fc_##dtype##_max_pool2d_backward(&p, gy, idx, gx) == FC_EINVAL,                       \
          #dtype " max_pool2d_backward rejects bad index", isa, caseno);                        \
    ok = fc_##dtype##_relu(nx, x, r) == FC_OK;                                                  \
    for (int64_t i = 0; ok && i < nx; i++) ok = r[i] == (x[i] < 0 ? 0 : x[i]);                  \
    check(ok, #dtype " relu", isa, caseno);                                                     \
    ok = fc_##dtype##_relu_backward(nx, x, x, r) == FC_OK;                                      \
    for (int64_t i = 0; ok && i < nx; i++) ok = r[i] == (x[i] <= 0 ? 0 : x[i]);                 \
    check(ok, #dtype " relu_backward", isa, caseno);                                            \
    free(x), free(y), free(gy), free(gx), free(gxr), free(r), free(idx);                        \
  }

DEFINE_CONV_TESTS(f32, float, 1e-4)
DEFINE_CONV_TESTS(f64, double, 1e-11)

/* The ISA's max-pool row kernels against the scalar ones, bit for bit, on
 * ties, NaN and -inf: the dilated kernels at every dilation, and at dilation 1
 * the dilation-1 kernels too. The plane (NCHW) or image (NHWC) holds exactly
 * its h*w(*c) values, so a read outside is an ASan error. */
#define DEFINE_POOL_KERNEL_TESTS(dtype, T)                                                      \
  static void dtype##_pool_kernel_case(const char *isa, int64_t caseno) {                       \
    fc_pool2d_params p;                                                                         \
    p.n = 1, p.c = rnd(1, 40), p.h = rnd(1, 12), p.w = rnd(1, 70);                              \
    p.kernel_h = rnd(1, 5), p.kernel_w = rnd(1, 5), p.stride_h = rnd(1, 3), p.stride_w = rnd(1, 3); \
    p.dil_h = rnd(1, 4), p.dil_w = rnd(1, 4);                                                   \
    if (rnd(0, 3) == 0) p.dil_h = p.dil_w = 1;                                                  \
    p.pad_top = rnd(0, p.kernel_h / 2), p.pad_left = rnd(0, p.kernel_w / 2);                    \
    p.layout = (fc_layout)rnd(0, 1);                                                            \
    const int ceil_mode = (int)rnd(0, 1);                                                       \
    p.oh = pool_out(p.h, p.kernel_h, p.stride_h, p.dil_h, p.pad_top, ceil_mode);                \
    p.ow = pool_out(p.w, p.kernel_w, p.stride_w, p.dil_w, p.pad_left, ceil_mode);               \
    if (p.oh < 1 || p.ow < 1) return;                                                           \
    const int nhwc = p.layout == FC_NHWC;                                                       \
    const int64_t C = nhwc ? p.c : 1, nx = p.h * p.w * C, ny = p.ow * C;                        \
    T *x = malloc(sizeof(T) * nx), *y = malloc(sizeof(T) * ny), *yr = malloc(sizeof(T) * ny);  \
    int64_t *idx = malloc(sizeof(int64_t) * ny), *idxr = malloc(sizeof(int64_t) * ny);          \
    for (int64_t i = 0; i < nx; i++) {                                                          \
      const int64_t u = rnd(0, 9);                                                              \
      x[i] = u == 0 ? (T)NAN : u == 1 ? -(T)INFINITY : (T)rnd(-3, 3);                           \
    }                                                                                           \
    /* windows of padding only are refused by the driver, never given to a kernel */           \
    T *yd = malloc(sizeof(T) * p.c * p.oh * p.ow);                                              \
    const int st = fc_##dtype##_max_pool2d(&(fc_pool2d_params){.n = 1, .c = C, .h = p.h, .w = p.w, \
        .oh = p.oh, .ow = p.ow, .kernel_h = p.kernel_h, .kernel_w = p.kernel_w,                 \
        .stride_h = p.stride_h, .stride_w = p.stride_w, .dil_h = p.dil_h, .dil_w = p.dil_w,     \
        .pad_top = p.pad_top, .pad_left = p.pad_left, .layout = p.layout}, x, yd, NULL);        \
    free(yd);                                                                                   \
    if (st == FC_OK) {                                                                          \
      const fc_ukernel_table *t = fc_table();                                                   \
      const fc_##dtype##_maxpool_ukernel fn =                                                   \
          nhwc ? t->dtype##_maxpool_nhwc_dilated : t->dtype##_maxpool_row_dilated;              \
      const fc_##dtype##_maxpool_ukernel ref = nhwc ? fc_##dtype##_maxpool_nhwc_dilated_ukernel__scalar \
                                                    : fc_##dtype##_maxpool_row_dilated_ukernel__scalar; \
      const fc_##dtype##_maxpool_ukernel one = nhwc ? t->dtype##_maxpool_nhwc : t->dtype##_maxpool_row; \
      const int dil1 = p.dil_h == 1 && p.dil_w == 1;                                            \
      int ok = 1;                                                                               \
      for (int64_t oy = 0; ok && oy < p.oh; oy++) {                                             \
        ref(&p, x, oy, yr, idxr);                                                               \
        fn(&p, x, oy, y, idx);                                                                  \
        ok = !memcmp(y, yr, sizeof(T) * ny) && !memcmp(idx, idxr, sizeof(int64_t) * ny);        \
        fn(&p, x, oy, y, NULL); /* values alone */                                              \
        ok = ok && !memcmp(y, yr, sizeof(T) * ny);                                              \
        if (dil1) {                                                                             \
          one(&p, x, oy, y, idx);                                                               \
          ok = ok && !memcmp(y, yr, sizeof(T) * ny) && !memcmp(idx, idxr, sizeof(int64_t) * ny); \
        }                                                                                       \
      }                                                                                         \
      check(ok, nhwc ? #dtype " maxpool_nhwc_dilated kernel" : #dtype " maxpool_row_dilated kernel", \
            isa, caseno);                                                                       \
    }                                                                                           \
    free(x), free(y), free(yr), free(idx), free(idxr);                                          \
  }

DEFINE_POOL_KERNEL_TESTS(f32, float)
DEFINE_POOL_KERNEL_TESTS(f64, double)

/* correlate2d / correlate1d against plain loops with SciPy's boundary rules
 * (fc_boundary_map, itself held to the pictures in SciPy's documentation by
 * boundary_map_case); x holds exactly (h - 1) * ldx + w values, so a read past
 * the last row's end is an ASan error. */
/* Positions -6 .. 9 of "a b c d" (n = 4) and of "a" (n = 1), as digits. */
static void boundary_map_case(void) {
  static const struct {
    fc_boundary boundary;
    const char *four, *one;
  } want[] = {
      {FC_BOUNDARY_WRAP, "2301230123012301", "0000000000000000"},    /* a b c d | a b c d */
      {FC_BOUNDARY_SYMM, "2332100123321001", "0000000000000000"},    /* d c b a | a b c d | d c b a */
      {FC_BOUNDARY_MIRROR, "0123210123210123", "0000000000000000"},  /* d c b | a b c d | c b a */
      {FC_BOUNDARY_NEAREST, "0000000123333333", "0000000000000000"}, /* a a a | a b c d | d d d */
  };
  for (size_t b = 0; b < sizeof want / sizeof want[0]; b++)
    for (int64_t g = -6; g <= 9; g++) {
      check(fc_boundary_map(g, 4, want[b].boundary) == want[b].four[g + 6] - '0', "boundary map n=4", "-", g);
      check(fc_boundary_map(g, 1, want[b].boundary) == want[b].one[g + 6] - '0', "boundary map n=1", "-", g);
      check(fc_boundary_map(g, 4, FC_BOUNDARY_FILL) == (g >= 0 && g < 4 ? g : -1), "boundary map fill", "-", g);
    }
}

#define DEFINE_CORRELATE_TESTS(dtype, T, tol)                                                   \
  static void dtype##_correlate_case(const char *isa, int64_t caseno) {                         \
    fc_correlate2d_params p;                                                                    \
    p.h = rnd(0, 12), p.w = rnd(0, 150), p.ldx = p.w + rnd(0, 3);                               \
    p.kh = rnd(1, 5), p.kw = rnd(1, rnd(0, 3) ? 9 : rnd(0, 2) ? 40 : rnd(0, 2) ? 300 : 1100);    \
    /* 300, 1100: long rows, each long form and its ends; read in place too */                  \
    if (p.kw > 40) p.w = rnd(0, p.kw + 300), p.ldx = p.w + rnd(0, 3);                          \
    p.oh = rnd(0, 14), p.ow = rnd(0, 160);                                                      \
    p.pad_top = rnd(-3, p.kh + 2), p.pad_left = rnd(-3, p.kw + 2);                              \
    p.boundary = (p.h && p.w) ? (fc_boundary)rnd(0, 4) : FC_BOUNDARY_FILL;                      \
    const int64_t nx = p.h ? (p.h - 1) * p.ldx + p.w : 0, ny = p.oh * p.ow;                     \
    T *x = malloc(sizeof(T) * (nx ? nx : 1)), *k = malloc(sizeof(T) * p.kh * p.kw);            \
    T *y = malloc(sizeof(T) * (ny ? ny : 1));                                                   \
    const T fill = (T)rndf();                                                                   \
    for (int64_t i = 0; i < nx; i++) x[i] = (T)rndf();                                          \
    for (int64_t i = 0; i < p.kh * p.kw; i++) k[i] = (T)rndf();                                 \
    int ok = fc_##dtype##_correlate2d(&p, nx ? x : NULL, k, fill, y) == FC_OK;                  \
    for (int64_t r = 0; ok && r < p.oh; r++)                                                    \
      for (int64_t c = 0; ok && c < p.ow; c++) {                                                \
        double want = 0, mag = 0;                                                               \
        for (int64_t i = 0; i < p.kh; i++)                                                      \
          for (int64_t j = 0; j < p.kw; j++) {                                                  \
            const int64_t sr = fc_boundary_map(r - p.pad_top + i, p.h, p.boundary);             \
            const int64_t sc = fc_boundary_map(c - p.pad_left + j, p.w, p.boundary);            \
            const double v = (sr < 0 || sc < 0) ? (double)fill : (double)x[sr * p.ldx + sc];    \
            want += v * (double)k[i * p.kw + j], mag += fabs(v * (double)k[i * p.kw + j]);      \
          }                                                                                     \
        ok = fabs((double)y[r * p.ow + c] - want) <= tol * (1 + mag);                           \
      }                                                                                         \
    check(ok, #dtype " correlate2d", isa, caseno);                                              \
    /* 1-D: one row, zero extension */                                                          \
    const int64_t n = p.h ? p.w : 0, m = p.kw, out_n = p.ow; /* row 0 of x */                   \
    T *y1 = malloc(sizeof(T) * (out_n ? out_n : 1)); /* exactly out_n: overruns are ASan errors */ \
    ok = fc_##dtype##_correlate1d(n, n ? x : NULL, m, k, p.pad_left, out_n, y1) == FC_OK;       \
    for (int64_t i = 0; ok && i < out_n; i++) {                                                 \
      double want = 0, mag = 0;                                                                 \
      for (int64_t t = 0; t < m; t++) {                                                         \
        const int64_t g = i - p.pad_left + t;                                                   \
        if (g >= 0 && g < n) want += (double)x[g] * k[t], mag += fabs((double)x[g] * k[t]);     \
      }                                                                                         \
      ok = fabs((double)y1[i] - want) <= tol * (1 + mag);                                       \
    }                                                                                           \
    check(ok, #dtype " correlate1d", isa, caseno);                                              \
    free(x), free(k), free(y), free(y1);                                                        \
    /* images stacked into one tall input, 'valid', each image's first `keep` rows written */  \
    /* (add 0) or added (add 1) into images x keep x ow: per image against plain loops */      \
    fc_correlate2d_params q;                                                                    \
    const int64_t images = rnd(1, 4), kh = rnd(1, 4), every = rnd(kh, 9);                      \
    const int64_t keep = rnd(1, every - kh + 1), wq = rnd(1, 70), kw = rnd(1, wq < 9 ? wq : 9);  \
    q.h = images * every, q.w = wq, q.ldx = wq, q.kh = kh, q.kw = kw;                           \
    q.oh = q.h - kh + 1, q.ow = wq - kw + 1, q.pad_top = q.pad_left = 0;                        \
    q.boundary = FC_BOUNDARY_FILL;                                                              \
    const int add = (int)rnd(0, 1);                                                             \
    T *xs = malloc(sizeof(T) * q.h * wq), *ks = malloc(sizeof(T) * kh * kw);                     \
    T *ys = malloc(sizeof(T) * images * keep * q.ow), *y0 = malloc(sizeof(T) * images * keep * q.ow); \
    for (int64_t i = 0; i < q.h * wq; i++) xs[i] = (T)rndf();                                   \
    for (int64_t i = 0; i < kh * kw; i++) ks[i] = (T)rndf();                                    \
    for (int64_t i = 0; i < images * keep * q.ow; i++) ys[i] = y0[i] = (T)rndf();               \
    ok = fc_##dtype##_correlate2d_stacked(&q, every, keep, add, xs, ks, ys) == FC_OK;           \
    for (int64_t im = 0; ok && im < images; im++)                                               \
      for (int64_t r = 0; ok && r < keep; r++)                                                  \
        for (int64_t c = 0; ok && c < q.ow; c++) {                                              \
          double want = 0, mag = 0;                                                             \
          for (int64_t i = 0; i < kh; i++)                                                      \
            for (int64_t j = 0; j < kw; j++) {                                                  \
              const double v = (double)xs[(im * every + r + i) * wq + c + j] * ks[i * kw + j];  \
              want += v, mag += fabs(v);                                                        \
            }                                                                                   \
          const int64_t o = (im * keep + r) * q.ow + c;                                         \
          if (add) want += (double)y0[o], mag += fabs((double)y0[o]);                           \
          ok = fabs((double)ys[o] - want) <= tol * (1 + mag);                                   \
        }                                                                                       \
    ok = ok && fc_##dtype##_correlate2d_stacked(&q, every, every + 1, 0, xs, ks, ys) == FC_EINVAL; \
    check(ok, #dtype " correlate2d_stacked", isa, caseno);                                      \
    free(xs), free(ks), free(ys), free(y0);                                                     \
  }

DEFINE_CORRELATE_TESTS(f32, float, 1e-5)
DEFINE_CORRELATE_TESTS(f64, double, 1e-13)

/* correlatend, correlate_axis and uniform_axis (scipy.ndimage) against plain
 * loops in SciPy's order of operations: f64 correlatend and both dtypes of the
 * axis filters must match them exactly (the products go through a volatile so
 * that the reference itself is never contracted into FMAs), f32 correlatend
 * within a direct sum's rounding. Buffers are sized exactly, for ASan. */
/* Uniform in [-2, 2) with every bit of the significand random: sums of such
 * values round differently in different orders, so only the right order passes. */
static double rndu(void) {
  rnd(0, 1);
  return (double)(rng_state >> 11) * 0x1p-51 - 2.0;
}

static double ref_prod(double a, double b) {
  volatile double p = a * b;
  return p;
}

#define DEFINE_NDIMAGE_TESTS(dtype, T, tol)                                                     \
  static void dtype##_ndimage_case(const char *isa, int64_t caseno) {                           \
    fc_correlatend_params p;                                                                    \
    p.ndim = (int)rnd(1, 4), p.boundary = (fc_boundary)rnd(0, 4);                               \
    int64_t nx = 1, nk = 1;                                                                     \
    for (int a = 0; a < p.ndim; a++) {                                                          \
      p.shape[a] = rnd(a == p.ndim - 1 ? 1 : 1, p.ndim > 2 ? 6 : 40), nx *= p.shape[a];         \
      p.kshape[a] = rnd(1, p.ndim > 2 ? 3 : 7), nk *= p.kshape[a];                              \
      p.pad[a] = rnd(-2, p.kshape[a] + 2);                                                      \
    }                                                                                           \
    if (rnd(0, 9) == 0) p.shape[rnd(0, p.ndim - 1)] = 0, nx = 0;                                \
    T *x = malloc(sizeof(T) * (nx ? nx : 1)), *k = malloc(sizeof(T) * nk);                     \
    T *y = malloc(sizeof(T) * (nx ? nx : 1));                                                   \
    double *kd = malloc(sizeof(double) * nk);                                                   \
    const T fill = (T)rndu();                                                                   \
    for (int64_t i = 0; i < nx; i++) x[i] = (T)rndu();                                          \
    for (int64_t i = 0; i < nk; i++) k[i] = rnd(0, 3) ? (T)rndu() : 0, kd[i] = k[i];            \
    if (sizeof(T) == 8 && nx && rnd(0, 3) == 0) x[rnd(0, nx - 1)] = (T)INFINITY; /* zero weights skip it */ \
    int ok = fc_##dtype##_correlatend(&p, nx ? x : NULL, k, fill, nx ? y : NULL) == FC_OK;      \
    for (int64_t o = 0; ok && o < nx; o++) {                                                    \
      int64_t oc[4], rem = o;                                                                   \
      for (int a = p.ndim - 1; a >= 0; a--) oc[a] = rem % p.shape[a], rem /= p.shape[a];         \
      double want = 0, mag = 0;                                                                 \
      for (int64_t t = 0; t < nk; t++) {                                                        \
        if (k[t] == 0) continue;                                                                \
        int64_t tc[4], trem = t, src = 0, inside = 1;                                           \
        for (int a = p.ndim - 1; a >= 0; a--) tc[a] = trem % p.kshape[a], trem /= p.kshape[a];  \
        for (int a = 0; a < p.ndim; a++) {                                                      \
          const int64_t m = fc_boundary_map(oc[a] - p.pad[a] + tc[a], p.shape[a], p.boundary);  \
          inside &= m >= 0, src = src * p.shape[a] + (m < 0 ? 0 : m);                           \
        }                                                                                       \
        const double v = inside ? (double)x[src] : (double)fill;                                \
        want += ref_prod(kd[t], v), mag += fabs(kd[t] * v);                                     \
      }                                                                                         \
      ok = sizeof(T) == 8 ? (double)y[o] == want || (isnan(y[o]) && isnan(want))                \
                          : fabs((double)y[o] - want) <= tol * (1 + mag);                        \
    }                                                                                           \
    check(ok, #dtype " correlatend", isa, caseno);                                              \
    /* the variant that reports whether y is finite: the same y, and the flag a scan gives */   \
    if (nx && rnd(0, 3) == 0) x[rnd(0, nx - 1)] = (T)INFINITY;                                  \
    T *y2 = malloc(sizeof(T) * (nx ? nx : 1));                                                  \
    int finite = -1, scan = 1;                                                                  \
    ok = fc_##dtype##_correlatend(&p, nx ? x : NULL, k, fill, nx ? y : NULL) == FC_OK &&        \
         fc_##dtype##_correlatend_finite(&p, nx ? x : NULL, k, fill, nx ? y2 : NULL, &finite) ==  \
             FC_OK;                                                                             \
    for (int64_t o = 0; o < nx; o++) scan &= isfinite((double)y[o]) != 0;                       \
    ok = ok && finite == scan && (!nx || memcmp(y, y2, sizeof(T) * nx) == 0);                   \
    check(ok, #dtype " correlatend_finite", isa, caseno);                                       \
    free(x), free(k), free(y), free(y2), free(kd);                                              \
    /* the axis filters: x as (outer, n, inner) */                                              \
    fc_axis_params q;                                                                           \
    q.n = rnd(1, rnd(0, 3) ? 20 : 300), q.inner = rnd(1, 3) == 1 ? 1 : rnd(1, 70);              \
    q.outer = q.inner == 1 && rnd(0, 1) ? rnd(5, 40) : rnd(0, 4); /* lines side by side */     \
    if (rnd(0, 7) == 0) /* rows wider than a task's chunk: correlation down columns */         \
      q.outer = rnd(0, 2), q.n = rnd(1, 12), q.inner = rnd(0, 1) ? rnd(4090, 4110) : 4608;      \
    q.m = rnd(1, rnd(0, 3) ? 7 : 40), q.boundary = (fc_boundary)rnd(0, 4);                      \
    q.pad = rnd(0, q.m - 1);                                                                    \
    if (rnd(0, 7) == 1) { /* rows a multiple of 2 KiB apart: correlation by strip copies */     \
      q.outer = rnd(0, 2), q.n = rnd(20, 60), q.inner = (int64_t)(2048 / sizeof(T)) * rnd(1, 2); \
      q.m = rnd(5, 31), q.pad = rnd(0, q.m - 1);                                                \
    }                                                                                           \
    const int64_t na = q.outer * q.n * q.inner;                                                 \
    T *xa = malloc(sizeof(T) * (na ? na : 1)), *ya = malloc(sizeof(T) * (na ? na : 1));         \
    double *w = malloc(sizeof(double) * q.m);                                                   \
    for (int64_t i = 0; i < na; i++) xa[i] = (T)rndu();                                         \
    for (int64_t i = 0; i < q.m; i++) w[i] = rndu();                                            \
    const int sym = (int)rnd(0, 2); /* weights made symmetric, antisymmetric or neither */      \
    for (int64_t i = 0; sym && i < q.m / 2; i++) w[q.m - 1 - i] = sym == 1 ? w[i] : -w[i];      \
    if (sym == 2 && (q.m & 1)) w[q.m / 2] = rndu();                                             \
    for (int uniform = 0; uniform <= 1; uniform++) {                                            \
      ok = (uniform ? fc_##dtype##_uniform_axis(&q, na ? xa : NULL, fill, na ? ya : NULL)      \
                    : fc_##dtype##_correlate_axis(&q, na ? xa : NULL, w, fill, na ? ya : NULL)) == FC_OK; \
      const int64_t c = q.m / 2;                                                                \
      int symmetric = 0;                                                                        \
      if (q.m & 1) {                                                                            \
        symmetric = 1;                                                                          \
        for (int64_t i = 1; i <= c && symmetric == 1; i++)                                      \
          if (fabs(w[c + i] - w[c - i]) > 2.220446049250313e-16) symmetric = 0;                 \
        if (!symmetric) {                                                                       \
          symmetric = -1;                                                                       \
          for (int64_t i = 1; i <= c; i++)                                                      \
            if (fabs(w[c + i] + w[c - i]) > 2.220446049250313e-16) symmetric = 0;               \
        }                                                                                       \
      }                                                                                         \
      for (int64_t a = 0; ok && a < q.outer; a++)                                               \
        for (int64_t b = 0; ok && b < q.inner; b++) {                                           \
          double line[400];                                                                     \
          for (int64_t g = 0; g < q.n + q.m - 1; g++) {                                         \
            const int64_t i = fc_boundary_map(g - q.pad, q.n, q.boundary);                      \
            line[g] = i < 0 ? (double)fill : (double)xa[(a * q.n + i) * q.inner + b];           \
          }                                                                                     \
          double tmp = 0.0;                                                                     \
          for (int64_t g = 0; uniform && g < q.m; g++) tmp += line[g];                          \
          for (int64_t i = 0; ok && i < q.n; i++) {                                             \
            const double *l = line + i + c; /* NI_Correlate1D's iline, centred */               \
            double want;                                                                        \
            if (uniform) {                                                                      \
              if (i > 0) tmp += line[i + q.m - 1] - line[i - 1];                                \
              want = tmp / (double)q.m;                                                         \
            } else if (symmetric) {                                                             \
              want = ref_prod(l[0], w[c]);                                                      \
              for (int64_t j = -c; j < 0; j++)                                                  \
                want += ref_prod(symmetric > 0 ? l[j] + l[-j] : l[j] - l[-j], w[c + j]);         \
            } else {                                                                            \
              const int64_t s2 = q.m - c - 1;                                                   \
              want = ref_prod(l[s2], w[c + s2]);                                                \
              for (int64_t j = -c; j < s2; j++) want += ref_prod(l[j], w[c + j]);               \
            }                                                                                   \
            ok = ya[(a * q.n + i) * q.inner + b] == (T)want;                                    \
          }                                                                                     \
        }                                                                                       \
      check(ok, uniform ? #dtype " uniform_axis" : #dtype " correlate_axis", isa, caseno);     \
    }                                                                                           \
    free(xa), free(ya), free(w);                                                                \
  }

DEFINE_NDIMAGE_TESTS(f32, float, 1e-5)
DEFINE_NDIMAGE_TESTS(f64, double, 0)

/* fc_correlatend_typed: inputs of an integer type or float32 read as doubles,
 * sums stored into an integer type, float32 or float64. Reference: the sums
 * in SciPy's order on the values as doubles, stored by this test's own
 * reading of x86-64's cvttsd2si (truncation; NaN and values out of the
 * 32- or 64-bit range giving that integer's minimum; then wrapped). */
static int64_t ref_trunc(double v, int bits) { /* cvttsd2si to `bits` (32 or 64) */
  const double lim = bits == 32 ? 2147483648.0 : 9223372036854775808.0;
  if (!(v > -lim - (bits == 32 ? 1.0 : 0.0) && v < lim)) return bits == 32 ? INT32_MIN : INT64_MIN;
  return (int64_t)v;
}

static void typed_case(const char *isa, int64_t caseno) {
  static const fc_elem ins[] = {FC_ELEM_U8, FC_ELEM_I16, FC_ELEM_U64, FC_ELEM_F32, FC_ELEM_F64};
  static const fc_elem outs[] = {FC_ELEM_U8, FC_ELEM_I8, FC_ELEM_U16, FC_ELEM_I32, FC_ELEM_U32,
                                 FC_ELEM_I64, FC_ELEM_F32, FC_ELEM_F64};
  const fc_elem xt = ins[rnd(0, 4)], yt = outs[rnd(0, 7)];
  fc_correlatend_params p;
  p.ndim = (int)rnd(1, 3), p.boundary = (fc_boundary)rnd(0, 4);
  int64_t nx = 1, nk = 1;
  for (int a = 0; a < p.ndim; a++) {
    p.shape[a] = rnd(1, p.ndim > 2 ? 6 : 30), p.kshape[a] = rnd(1, 4), p.pad[a] = rnd(-1, 4);
    if (a == p.ndim - 1 && rnd(0, 5) == 0) p.shape[a] = rnd(4090, 4200); /* two column blocks */
    nx *= p.shape[a], nk *= p.kshape[a];
  }
  const size_t xi = fc_elem_size(xt), yi = fc_elem_size(yt);
  unsigned char *x = malloc(xi * (size_t)nx), *y = malloc(yi * (size_t)nx);
  double *xd = malloc(sizeof(double) * (size_t)nx), *k = malloc(sizeof(double) * (size_t)nk);
  for (int64_t i = 0; i < nx; i++) { /* values of x, and the same as doubles */
    const int64_t v = rnd(-300, 300);
    switch (xt) {
      case FC_ELEM_U8: ((uint8_t *)x)[i] = (uint8_t)v, xd[i] = (uint8_t)v; break;
      case FC_ELEM_I16: ((int16_t *)x)[i] = (int16_t)(v * 90), xd[i] = (int16_t)(v * 90); break;
      case FC_ELEM_U64: ((uint64_t *)x)[i] = (uint64_t)v, xd[i] = (double)(uint64_t)v; break;
      case FC_ELEM_F32: ((float *)x)[i] = (float)rndu() * 200, xd[i] = ((float *)x)[i]; break;
      default: ((double *)x)[i] = rndu() * 200, xd[i] = ((double *)x)[i]; break;
    }
  }
  for (int64_t i = 0; i < nk; i++) k[i] = rnd(0, 3) ? rndu() * 3 : 0;
  const double fill = rndu() * 100;
  int ok = fc_correlatend_typed(&p, xt, x, k, fill, yt, y, (int)rnd(0, 1)) == FC_OK;
  for (int64_t o = 0; ok && o < nx; o++) {
    int64_t oc[3], rem = o;
    for (int a = p.ndim - 1; a >= 0; a--) oc[a] = rem % p.shape[a], rem /= p.shape[a];
    double s = 0;
    for (int64_t t = 0; t < nk; t++) {
      if (k[t] == 0) continue;
      int64_t tc[3], trem = t, src = 0, inside = 1;
      for (int a = p.ndim - 1; a >= 0; a--) tc[a] = trem % p.kshape[a], trem /= p.kshape[a];
      for (int a = 0; a < p.ndim; a++) {
        const int64_t m = fc_boundary_map(oc[a] - p.pad[a] + tc[a], p.shape[a], p.boundary);
        inside &= m >= 0, src = src * p.shape[a] + (m < 0 ? 0 : m);
      }
      s += ref_prod(k[t], inside ? xd[src] : fill);
    }
    switch (yt) { /* (integers: the low bits of the truncated value) */
      case FC_ELEM_U8: ok = ((uint8_t *)y)[o] == (uint8_t)(ref_trunc(s, 32) & 0xff); break;
      case FC_ELEM_I8: ok = (uint8_t)((int8_t *)y)[o] == (uint8_t)(ref_trunc(s, 32) & 0xff); break;
      case FC_ELEM_U16: ok = ((uint16_t *)y)[o] == (uint16_t)(ref_trunc(s, 32) & 0xffff); break;
      case FC_ELEM_I32: ok = ((int32_t *)y)[o] == (int32_t)ref_trunc(s, 32); break;
      case FC_ELEM_U32: ok = ((uint32_t *)y)[o] == (uint32_t)(ref_trunc(s, 64) & 0xffffffff); break;
      case FC_ELEM_I64: ok = ((int64_t *)y)[o] == ref_trunc(s, 64); break;
      case FC_ELEM_F32: ok = ((float *)y)[o] == (float)s; break;
      default: ok = ((double *)y)[o] == s; break;
    }
  }
  check(ok, "correlatend_typed", isa, caseno);
  check(fc_correlatend_typed(&p, (fc_elem)99, x, k, fill, yt, y, 0) == FC_EINVAL &&
            fc_correlatend_typed(&p, xt, x, k, fill, (fc_elem)-1, y, 0) == FC_EINVAL,
        "correlatend_typed: unknown element types refused", isa, caseno);
  free(x), free(y), free(xd), free(k);
}

/* The environment readers, with the variables set here (this process reads
 * them only through these calls after the pool and table have started). */
static void env_case(void) {
  char why[256];
  setenv("FASTCONV_ISA", " AVX2 ", 1);
  check(fc_env_isa(why, sizeof why) == FC_ISA_AVX2 && why[0] == '\0', "env isa: blanks and case", "-", 0);
  setenv("FASTCONV_ISA", "avx9000", 1);
  check(fc_env_isa(why, sizeof why) == -1 && strstr(why, "'avx9000'") && strstr(why, "scalar, avx2, avx512"),
        "env isa: unknown name explained", "-", 0);
  unsetenv("FASTCONV_ISA");
  check(fc_env_isa(why, sizeof why) == -1 && why[0] == '\0', "env isa: unset", "-", 0);
  setenv("FASTCONV_NUM_THREADS", " 3,2 ", 1);
  check(fc_env_num_threads(why, sizeof why) == 3 && why[0] == '\0', "env threads: list", "-", 0);
  setenv("FASTCONV_NUM_THREADS", "1.5", 1);
  setenv("OMP_NUM_THREADS", "2", 1);
  check(fc_env_num_threads(why, sizeof why) == 2 && strstr(why, "'1.5' is not a positive integer"),
        "env threads: bad value explained, OMP_NUM_THREADS used", "-", 0);
  unsetenv("FASTCONV_NUM_THREADS");
  unsetenv("OMP_NUM_THREADS");
  check(fc_env_num_threads(NULL, 0) == 0, "env threads: unset", "-", 0);
}

/* softmax against a double loop; the forward chain (dense, relu, dense,
 * softmax) against its steps called one by one, bit for bit; its refusals */
#define DEFINE_CHAIN_TESTS(dtype, T, tol)                                                       \
  static void dtype##_chain_case(const char *isa, int64_t caseno) {                             \
    const int64_t n = rnd(1, 12), k = rnd(1, 300), h = rnd(1, 40), m = rnd(1, 12);              \
    T *x = malloc(sizeof(T) * n * k), *w1 = malloc(sizeof(T) * k * h), *b1 = malloc(sizeof(T) * h); \
    T *w2 = malloc(sizeof(T) * h * m), *b2 = malloc(sizeof(T) * m), *z = malloc(sizeof(T) * n * h); \
    T *y = malloc(sizeof(T) * n * m), *want = malloc(sizeof(T) * n * m);                        \
    for (int64_t i = 0; i < n * k; i++) x[i] = (T)rndf();                                       \
    for (int64_t i = 0; i < k * h; i++) w1[i] = (T)rndf();                                      \
    for (int64_t i = 0; i < h * m; i++) w2[i] = (T)(rndf() * 3);                                \
    for (int64_t i = 0; i < h; i++) b1[i] = (T)rndf();                                          \
    for (int64_t i = 0; i < m; i++) b2[i] = (T)rndf();                                          \
    int ok = fc_##dtype##_dense(n, k, h, x, w1, b1, z) == FC_OK &&                              \
             fc_##dtype##_relu(n * h, z, z) == FC_OK &&                                         \
             fc_##dtype##_dense(n, h, m, z, w2, b2, want) == FC_OK;                             \
    T *logits = malloc(sizeof(T) * n * m);                                                      \
    memcpy(logits, want, sizeof(T) * n * m);                                                    \
    ok = ok && fc_##dtype##_softmax(n, m, want, want) == FC_OK; /* in place */                  \
    for (int64_t i = 0; ok && i < n; i++) {                                                     \
      double top = logits[i * m], sum = 0;                                                      \
      for (int64_t j = 1; j < m; j++) top = logits[i * m + j] > top ? logits[i * m + j] : top;  \
      for (int64_t j = 0; j < m; j++) sum += exp((double)logits[i * m + j] - top);             \
      for (int64_t j = 0; ok && j < m; j++)                                                     \
        ok = fabs(want[i * m + j] - exp((double)logits[i * m + j] - top) / sum) <= tol * 10;   \
    }                                                                                           \
    check(ok, #dtype " softmax", isa, caseno);                                                  \
    fc_step steps[2];                                                                           \
    memset(steps, 0, sizeof steps);                                                             \
    steps[0].op = steps[1].op = FC_STEP_DENSE;                                                  \
    steps[0].act = FC_ACT_RELU, steps[1].act = FC_ACT_SOFTMAX;                                  \
    steps[0].rows = steps[1].rows = 1;                                                          \
    steps[0].k = k, steps[0].m = h, steps[0].weight = w1, steps[0].bias = b1;                   \
    steps[1].k = h, steps[1].m = m, steps[1].weight = w2, steps[1].bias = b2;                   \
    int64_t in = 0, out = 0;                                                                    \
    const int64_t need = fc_forward_scratch_elems(n, 2, steps, &in, &out);                      \
    T *scratch = malloc(sizeof(T) * (size_t)(need > 0 ? need : 1));                            \
    ok = need == n * h && in == k && out == m &&                                                \
         fc_##dtype##_forward(n, 2, steps, x, y, scratch, need) == FC_OK &&                     \
         !memcmp(y, want, sizeof(T) * n * m);                                                   \
    check(ok, #dtype " forward chain equals its steps", isa, caseno);                           \
    const int64_t bt = rnd(1, 5), needb = fc_forward_batches_scratch_elems(n, bt, 2, steps);     \
    T *sb = malloc(sizeof(T) * (size_t)(needb > 0 ? needb : 1));                                \
    memset(y, 0, sizeof(T) * n * m);                                                            \
    ok = needb >= 0 && fc_##dtype##_forward_batches(n, bt, 2, steps, x, y, sb, needb) == FC_OK && \
         !memcmp(y, want, sizeof(T) * n * m) &&                                                 \
         fc_##dtype##_forward_batches(n, 0, 2, steps, x, y, sb, needb) == FC_EINVAL &&          \
         (needb == 0 || fc_##dtype##_forward_batches(n, bt, 2, steps, x, y, sb, needb - 1) == FC_EINVAL); \
    check(ok, #dtype " forward chain in batches equals its steps", isa, caseno);                \
    free(sb);                                                                                   \
    /* enough batches, each more rows than the GEMV takes, for the pass to pack the   */        \
    /* dense kernels once: still each batch's own forward, bit for bit                */        \
    const int64_t bt2 = rnd(FC_DENSE_GEMV_MAX_BATCH + 1, 20);                                   \
    const int64_t n2 = bt2 * FC_FORWARD_PACK_MIN_BATCHES + rnd(0, 2 * bt2);                     \
    T *x2 = malloc(sizeof(T) * n2 * k), *y2 = malloc(sizeof(T) * n2 * m);                       \
    T *want2 = malloc(sizeof(T) * n2 * m);                                                      \
    for (int64_t i = 0; i < n2 * k; i++) x2[i] = (T)rndf();                                     \
    const int64_t need2 = fc_forward_scratch_elems(bt2, 2, steps, NULL, NULL);                  \
    const int64_t needb2 = fc_forward_batches_scratch_elems(n2, bt2, 2, steps);                 \
    T *s2 = malloc(sizeof(T) * (size_t)(need2 + needb2 + 1));                                   \
    ok = need2 >= 0 && needb2 >= 0;                                                             \
    for (int64_t i0 = 0; ok && i0 < n2; i0 += bt2)                                              \
      ok = fc_##dtype##_forward(n2 - i0 < bt2 ? n2 - i0 : bt2, 2, steps, x2 + i0 * k,           \
                                want2 + i0 * m, s2, need2) == FC_OK;                            \
    ok = ok && fc_##dtype##_forward_batches(n2, bt2, 2, steps, x2, y2, s2, needb2) == FC_OK &&   \
         !memcmp(y2, want2, sizeof(T) * n2 * m);                                                \
    check(ok, #dtype " forward chain in many batches equals each batch's", isa, caseno);       \
    free(x2), free(y2), free(want2), free(s2);                                                  \
    ok = fc_##dtype##_forward(n, 2, steps, x, y, scratch, need - 1) == FC_EINVAL;               \
    steps[1].k = h + 1; /* does not chain */                                                    \
    ok = ok && fc_forward_scratch_elems(n, 2, steps, NULL, NULL) == -1 &&                       \
         fc_##dtype##_forward(n, 2, steps, x, y, scratch, need) == FC_EINVAL;                   \
    steps[1].k = h, steps[1].weight = NULL; /* a dense step needs its weights */                \
    ok = ok && fc_##dtype##_forward(n, 2, steps, x, y, scratch, need) == FC_EINVAL;             \
    steps[1].weight = w2, steps[0].k = (int64_t)1 << 40, steps[0].m = h;                        \
    ok = ok && fc_forward_scratch_elems((int64_t)1 << 40, 2, steps, NULL, NULL) == -2;          \
    check(ok, #dtype " forward chain refuses bad chains", isa, caseno);                         \
    free(x), free(w1), free(b1), free(w2), free(b2), free(z), free(y), free(want), free(logits); \
    free(scratch);                                                                              \
  }

DEFINE_CHAIN_TESTS(f32, float, 1e-6)
DEFINE_CHAIN_TESTS(f64, double, 1e-14)

/* the tuned choices: forced and loaded variants reach the planner's question,
 * bad tables are refused */
static void tuning_case(void) {
  const int isa = (int)fc_current_isa();
  fc_tune_entry e = {FC_TUNE_DENSE, isa, 4, 128, 32, 4732, 1};
  int ok = fc_tune_variant(FC_TUNE_DENSE, 4, 128, 32, 4732, 0) == -1 && fc_tune_load(1, &e) == FC_OK &&
           fc_tune_count() == 1 && fc_tune_variant(FC_TUNE_DENSE, 4, 128, 32, 4732, 0) == 1 &&
           fc_tune_variant(FC_TUNE_CONV2D, 4, 128, 32, 4732, 0) == -1;
  fc_tune_entry all = {FC_TUNE_CONV2D, isa, 4, -1, 0, 0, 2};
  ok = ok && fc_tune_force(&all) == FC_OK && fc_tune_variant(FC_TUNE_CONV2D, 8, 5, 6, 7, 0) == 2;
  ok = ok && fc_tune_force(NULL) == FC_OK && fc_tune_variant(FC_TUNE_CONV2D, 8, 5, 6, 7, 0) == -1;
  fc_tune_entry seen[16];
  const int nseen = fc_tune_seen(seen, 16, 1);
  ok = ok && nseen >= 2 && seen[nseen - 1].rows == 5 && fc_tune_seen(seen, 16, 0) == 0;
  e.variant = FC_MAX_IGEMM_TILES;
  ok = ok && fc_tune_load(1, &e) == FC_EINVAL && fc_tune_count() == 1;
  ok = ok && fc_tune_load(0, NULL) == FC_OK && fc_tune_count() == 0;
  check(ok, "tuned choices", fc_isa_name((fc_isa)isa), 0);
}

/* the tuner's rule: a tile replaces the static one only when faster by the
 * margin in the median (for even rounds the mean of the middle two, as
 * Python's statistics.median) and in four rounds of five */
static void tune_pick_case(void) {
  enum { R = FC_TUNE_ROUNDS };
  double ns[3 * R];
  const double fixed[R] = {100, 100, 100, 100, 100}, slow[R] = {200, 200, 200, 200, 200};
  const double cases[][R] = {{90, 90, 90, 90, 90}, {98, 98, 98, 98, 98}, {90, 90, 90, 110, 110},
                             {90, 90, 90, 90, 110}};
  const int want[] = {1, 0, 0, 1};
  int ok = 1;
  for (int c = 0; c < 4; c++) {
    memcpy(ns, fixed, sizeof fixed), memcpy(ns + R, cases[c], sizeof fixed), memcpy(ns + 2 * R, slow, sizeof slow);
    ok = ok && fc_tune_pick(ns, 3, R, 0) == want[c];
    memcpy(ns, slow, sizeof slow), memcpy(ns + 2 * R, fixed, sizeof fixed); /* static tile 2 */
    ok = ok && fc_tune_pick(ns, 3, R, 2) == (want[c] ? 1 : 2);
  }
  /* four rounds: tile 1's median is (90 + 98) / 2 = 94, 6% faster; the upper
   * middle alone (98) would not be */
  const double even[2 * 4] = {100, 100, 100, 100, 98, 90, 98, 90};
  ok = ok && fc_tune_pick(even, 2, 4, 0) == 1;
  ok = ok && fc_tune_pick(ns, 3, 0, 2) == 2 && fc_tune_pick(ns, 1, R, 0) == 0 &&
       fc_tune_pick(ns, 3, R, 3) == 3;
  check(ok, "the tuner's rule", "any", 0);
}

/* fc_run_chunks: every chunk once, thread tid taking tid, tid + team, ...;
 * the first failure in thread order; a nested call on one thread. */
typedef struct {
  _Atomic int ran[10];
  _Atomic int wrong_tid;
  int fail_at;
  _Atomic int nested;
} chunks_ctx;

/* FC_GEMM_PREFETCH on every f32 indirect-GEMM tile of the current table: the
 * same outputs as without it; the thread's stream left as it was (a kernel that
 * ignores the hint; any tile with fewer live rows than MR) or advanced by one
 * line per depth step while its lines last, never past them; and the 6x64
 * AVX-512 tile (the Dense forward's) takes the hint. */
static void prefetch_case(const char *isa) {
  const fc_ukernel_table *t = fc_table();
  static const float zero[64];
  static float src[64 * 4096]; /* what the stream fetches: 4,096 lines */
  int advanced = 0;
  for (int v = 0; v < FC_MAX_IGEMM_TILES && t->f32_igemm[v].fn; v++) {
    const fc_f32_igemm_entry e = t->f32_igemm[v];
    const size_t ks = 3, kc = 37, mr = e.mr, nr = e.nr, steps = ks * kc;
    float *x = malloc(ks * mr * kc * sizeof(float)), *b = malloc(ks * kc * nr * sizeof(float));
    float *c0 = malloc(mr * nr * sizeof(float)), *c1 = malloc(mr * nr * sizeof(float));
    const float **ptr = malloc(ks * mr * sizeof(float *));
    if (!x || !b || !c0 || !c1 || !ptr) {
      check(0, "prefetch_case: out of memory", isa, v);
      free(x), free(b), free(c0), free(c1), free((void *)ptr);
      return;
    }
    for (size_t i = 0; i < ks * mr * kc; i++) x[i] = (float)rndf();
    for (size_t i = 0; i < ks * kc * nr; i++) b[i] = (float)rndf();
    for (size_t i = 0; i < ks * mr; i++) ptr[i] = x + i * kc;
    const size_t lines[] = {0, 5, steps, 4096};
    for (size_t m = mr - 1; m <= mr; m++)
      for (int li = 0; li < 4; li++) {
        e.fn(ks, kc, ptr, 0, 1, zero, b, nr, c0, nr, m, nr, NULL, 0);
        fc_gemm_prefetch = (fc_prefetch_stream){(const char *)src, lines[li]};
        e.fn(ks, kc, ptr, 0, 1, zero, b, nr, c1, nr, m, nr, NULL, FC_GEMM_PREFETCH);
        const fc_prefetch_stream got = fc_gemm_prefetch;
        const size_t took = lines[li] - got.lines, want = lines[li] < steps ? lines[li] : steps;
        check(!memcmp(c0, c1, m * nr * sizeof(float)), "igemm: the same outputs with FC_GEMM_PREFETCH",
              isa, v);
        check(got.lines <= lines[li] && got.at == (const char *)src + 64 * took &&
                  (took == 0 || (m == mr && took == want)),
              "igemm: FC_GEMM_PREFETCH's stream: unchanged, or one line per step", isa, v);
        advanced |= mr == 6 && nr == 64 && m == mr && took == want && want > 0;
      }
    fc_gemm_prefetch.lines = 0;
    free(x), free(b), free(c0), free(c1), free((void *)ptr);
  }
  if (t->isa == FC_ISA_AVX512) check(advanced, "the 6x64 AVX-512 tile takes FC_GEMM_PREFETCH", isa, 0);
}

static int chunk_nested(void *ctx, int64_t i, int tid) {
  chunks_ctx *c = ctx;
  if (tid != 0) atomic_store(&c->wrong_tid, 1);
  atomic_fetch_add(&c->nested, 1);
  (void)i;
  return FC_OK;
}

static int chunk_mark(void *ctx, int64_t i, int tid) {
  chunks_ctx *c = ctx;
  if (i % 3 != tid) atomic_store(&c->wrong_tid, 1);
  atomic_fetch_add(&c->ran[i], 1);
  if (i == 4) fc_run_chunks(2, 3, chunk_nested, ctx);
  return i == c->fail_at ? FC_ENOMEM : FC_OK;
}

static void chunks_case(void) {
  fc_set_num_threads(2);
  chunks_ctx c = {{0}, 0, -1, 0};
  check(fc_run_chunks(3, 10, chunk_mark, &c) == FC_OK, "run_chunks returns FC_OK", "any", 0);
  int once = 1;
  for (int i = 0; i < 10; i++) once &= c.ran[i] == 1;
  check(once && !c.wrong_tid, "run_chunks runs each chunk once on thread i % team", "any", 0);
  check(c.nested == 3, "run_chunks nested runs every chunk on the calling thread", "any", 0);
  chunks_ctx d = {{0}, 0, 7, 0};
  check(fc_run_chunks(3, 10, chunk_mark, &d) == FC_ENOMEM, "run_chunks returns a failure", "any", 0);
  check(fc_run_chunks(3, 0, chunk_mark, &d) == FC_OK, "run_chunks of no chunks", "any", 0);
  /* the pool's hint, workers spinning or asleep, then a region as before */
  const int64_t spin = fc_pool_spin_ns(0);
  for (int round = 0; round < 2; round++) {
    fc_pool_wake(0);
    fc_pool_spin_ns(round ? 1000 : spin); /* with a spin shorter than the hold */
    fc_pool_wake(300000);
    fc_pool_wake(0);
    chunks_ctx e = {{0}, 0, -1, 0};
    int ok = fc_run_chunks(3, 10, chunk_mark, &e) == FC_OK;
    for (int i = 0; i < 10; i++) ok &= e.ran[i] == 1;
    check(ok && !e.wrong_tid, "a region after pool_wake runs each chunk once", "any", 0);
    fc_pool_spin_ns(0);
  }
  fc_pool_spin_ns(spin);
}

/* Large result blocks: alignment, the usable size, zeroing, reuse of a freed
 * block of about the same size (not of a much smaller or larger one), the
 * limit, release; and blocks allocated and freed by four of the pool's
 * threads at once (ThreadSanitizer's build runs this driver). */
static int big_chunk(void *ctx, int64_t i, int tid) {
  (void)tid;
  const size_t n = *(const size_t *)ctx + (size_t)(i % 4) * 4096;
  for (int r = 0; r < 20; r++) {
    unsigned char *p = fc_big_alloc(n, r & 1, r % 3 == 0);
    if (!p) return 1;
    if (r % 3 == 0 && (p[0] != 0 || p[n - 1] != 0)) return 2;
    p[0] = p[n - 1] = (unsigned char)r;
    fc_big_free(p);
  }
  return 0;
}

static void big_blocks_case(void) {
  const int64_t limit = fc_big_keep(-1);
  check(limit >= 0, "big blocks: default limit", "", 0);
  fc_big_release();
  check(fc_big_kept() == 0, "big blocks: nothing kept after release", "", 0);
  const size_t n = ((size_t)3 << 20) + 12345;
  unsigned char *a = fc_big_alloc(n, 1, 1);
  int zero = a != NULL;
  for (size_t i = 0; a && i < n; i += 4093) zero &= a[i] == 0;
  check(zero && a[n - 1] == 0, "big blocks: a new block is zero", "", 0);
  check(a && (uintptr_t)a % 64 == 0 && fc_big_usable(a) >= n, "big blocks: aligned, usable", "", 0);
  memset(a, 0xAB, n);
  fc_big_free(a);
  const int64_t kept = fc_big_kept();
  check(limit == 0 ? kept == 0 : kept >= (int64_t)n, "big blocks: a freed block is kept", "", 0);
  unsigned char *b = fc_big_alloc(n - 1000, 0, 0); /* about the size: the kept block */
  check(b == a || limit == 0, "big blocks: reused for about its size", "", 0);
  check(fc_big_kept() == 0, "big blocks: a reused block is no longer kept", "", 0);
  fc_big_free(b);
  unsigned char *c = fc_big_alloc(n / 2, 0, 0); /* half the size: a new one */
  check(c && c != b, "big blocks: not reused for a much smaller request", "", 0);
  unsigned char *d = fc_big_alloc(n - 100, 0, 1); /* the kept block, zeroed as asked */
  zero = d != NULL;
  for (size_t i = 0; d && i < n - 100; i += 997) zero &= d[i] == 0;
  check(zero && d[n - 101] == 0, "big blocks: a reused block zeroed where asked", "", 0);
  fc_big_free(c), fc_big_free(d);
  check(fc_big_release() > 0 && fc_big_kept() == 0, "big blocks: release", "", 0);
  fc_big_keep(0); /* keeps nothing */
  unsigned char *e = fc_big_alloc(n, 0, 0);
  fc_big_free(e);
  check(fc_big_kept() == 0, "big blocks: limit 0 keeps nothing", "", 0);
  fc_big_keep((int64_t)n * 3); /* room for two blocks of n */
  void *f[3] = {fc_big_alloc(n, 0, 0), fc_big_alloc(n, 0, 0), fc_big_alloc(n, 0, 0)};
  for (int i = 0; i < 3; i++) fc_big_free(f[i]);
  check(fc_big_kept() <= (int64_t)n * 3 && fc_big_kept() >= (int64_t)n * 2, "big blocks: the limit holds", "", 0);
  fc_big_keep(limit);
  const int threads = fc_get_num_threads();
  fc_set_num_threads(4);
  check(fc_run_chunks(4, 16, big_chunk, (void *)&n) == FC_OK, "big blocks: threads allocating and freeing at once", "", 0);
  fc_set_num_threads(threads);
  fc_big_release();
}

int main(int argc, char **argv) {
  const int64_t cases = argc > 1 ? atoll(argv[1]) : 200;
  boundary_map_case();
  env_case();
  tuning_case();
  tune_pick_case();
  chunks_case();
  big_blocks_case();
  for (int isa = FC_ISA_SCALAR; isa <= FC_ISA_AVX512; isa++) {
    if (!fc_isa_compiled((fc_isa)isa) || isa > (int)fc_cpu_isa()) continue;
    fc_set_isa((fc_isa)isa);
    const char *name = fc_isa_name((fc_isa)isa);
    prefetch_case(name);
    /* 17 threads: more than the dynamic loops' 16 ranges (threads.c), on a few cases */
    const int teams[] = {1, 2, 17};
    for (int ti = 0; ti < 3; ti++) {
      const int threads = teams[ti];
      fc_set_num_threads(threads);
      fc_parallel_threshold_ns(threads > 1 ? 0 : 50000); /* small shapes threaded too */
      for (int64_t i = 0; i < (threads > 2 ? (cases < 6 ? cases : 6) : cases); i++) {
        f32_conv_case(name, i), f64_conv_case(name, i);
        f32_pool_relu_case(name, i), f64_pool_relu_case(name, i);
        f32_pool_kernel_case(name, i), f64_pool_kernel_case(name, i);
        f32_correlate_case(name, i), f64_correlate_case(name, i);
        f32_ndimage_case(name, i), f64_ndimage_case(name, i), typed_case(name, i);
        f32_dense_case(name, i), f64_dense_case(name, i);
        f32_chain_case(name, i), f64_chain_case(name, i);
        if (i % 2) fc_pool_wake(i % 4 == 1 ? 200000 : 0); /* the training loop's hint between regions */
      }
    }
    /* invalid parameters are refused, never dereferenced */
    fc_conv2d_params bad = {1, 3, 5, 5, 4, 3, 3, 3, 3, 0, 1, 1, 1, 0, 0, 1, FC_NCHW};
    check(fc_f32_conv2d(&bad, NULL, NULL, NULL, NULL) == FC_EINVAL, "conv2d rejects stride 0", name, 0);
    bad.stride_h = 1, bad.groups = 2;
    check(fc_f32_conv2d(&bad, NULL, NULL, NULL, NULL) == FC_EINVAL, "conv2d rejects groups", name, 0);
    bad.groups = 1, bad.n = (int64_t)1 << 40, bad.c = (int64_t)1 << 40;
    check(fc_f32_conv2d(&bad, NULL, NULL, NULL, NULL) == FC_EOVERFLOW, "conv2d rejects overflow", name, 0);
    /* a one-tap axis reads one element whatever its dilation; dilations below 1 or
     * spans that overflow are refused */
    const float px[4] = {1, 4, 3, 2};
    float py[4] = {0};
    const int64_t huge = (int64_t)1 << 62;
    fc_pool2d_params one = {1, 1, 2, 2, 2, 2, 1, 1, 1, 1, huge, huge, 0, 0, FC_NCHW};
    check(fc_f32_max_pool2d(&one, px, py, NULL) == FC_OK && !memcmp(px, py, sizeof py),
          "max_pool2d one tap at dilation 2**62", name, 0);
    one.kernel_w = 2, one.ow = 1;
    check(fc_f32_max_pool2d(&one, px, py, NULL) == FC_EOVERFLOW, "max_pool2d rejects span overflow", name, 0);
    one.kernel_w = 1, one.ow = 2, one.dil_h = 0;
    check(fc_f32_max_pool2d(&one, px, py, NULL) == FC_EINVAL, "max_pool2d rejects dilation 0", name, 0);
    fc_correlate2d_params cbad = {4, 4, 4, 0, 3, 2, 2, 0, 0, FC_BOUNDARY_FILL};
    check(fc_f64_correlate2d(&cbad, NULL, NULL, 0, NULL) == FC_EINVAL, "correlate2d rejects kh 0", name, 0);
    cbad.kh = 3, cbad.h = 0, cbad.boundary = FC_BOUNDARY_SYMM;
    check(fc_f64_correlate2d(&cbad, NULL, NULL, 0, NULL) == FC_EINVAL, "correlate2d rejects symm on empty", name, 0);
    cbad.h = 4, cbad.boundary = FC_BOUNDARY_FILL, cbad.oh = (int64_t)1 << 40, cbad.ow = (int64_t)1 << 40;
    check(fc_f64_correlate2d(&cbad, NULL, NULL, 0, NULL) == FC_EOVERFLOW, "correlate2d rejects overflow", name, 0);
    cbad.oh = cbad.ow = 2, cbad.boundary = (fc_boundary)5;
    check(fc_f64_correlate2d(&cbad, NULL, NULL, 0, NULL) == FC_EINVAL, "correlate2d rejects boundary 5", name, 0);
    fc_correlatend_params nbad = {0, {4}, {3}, {1}, FC_BOUNDARY_MIRROR};
    check(fc_f64_correlatend(&nbad, NULL, NULL, 0, NULL) == FC_EINVAL, "correlatend rejects ndim 0", name, 0);
    nbad.ndim = 1, nbad.kshape[0] = 0;
    check(fc_f64_correlatend(&nbad, NULL, NULL, 0, NULL) == FC_EINVAL, "correlatend rejects kshape 0", name, 0);
    nbad.kshape[0] = 3, nbad.pad[0] = ((int64_t)1 << 62) + 1;
    check(fc_f32_correlatend(&nbad, NULL, NULL, 0, NULL) == FC_EOVERFLOW, "correlatend rejects huge pad", name, 0);
    fc_axis_params abad = {2, 5, 3, 0, 0, FC_BOUNDARY_NEAREST};
    check(fc_f64_uniform_axis(&abad, NULL, 0, NULL) == FC_EINVAL, "uniform_axis rejects m 0", name, 0);
    abad.m = 3, abad.outer = (int64_t)1 << 40, abad.n = (int64_t)1 << 40;
    check(fc_f32_correlate_axis(&abad, NULL, NULL, 0, NULL) == FC_EINVAL, "correlate_axis needs weights", name, 0);
    check(fc_f32_uniform_axis(&abad, NULL, 0, NULL) == FC_EOVERFLOW, "uniform_axis rejects overflow", name, 0);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

/* Dense (fully connected) layer products for one dtype; included by conv2d.c
 * after conv2d-impl.h, with the same T, FC_(x), IGEMM and IGEMM_ENTRY_T, so it
 * shares pick_igemm and the indirect-GEMM microkernels.
 *
 * A dense layer's three products are skinny: the batch (32 in the lecture's
 * model) is one side, features (4,732) and units (128) the others. BLAS packs
 * both operands of each; here the big operand (the kernel w, or x for the
 * kernel gradient) is read in place through the microkernel's row pointers,
 * and only the small one is packed:
 *
 *   forward   y  = x @ w + b   rows = units,    cols = batch,    depth = features
 *   input     gx = gy @ w^T    rows = features, cols = batch,    depth = units
 *   kernel    gw = x^T @ gy    rows = features, cols = units,    depth = batch
 *
 * One driver does all three: C[i, j] = sum_p A(i)[p * a_pstride] * B(p, j)
 * with A(i) = a + i * a_rstride read in place, B(p, j) = b[p * b_ps + j * b_js]
 * packed NR columns at a time, and C stored to c[i * c_is + j * c_js]: straight
 * from the microkernel when c_js == 1, else (the transposed results of the
 * forward and input products) from a scratch block, transposed, with the bias.
 * Every output element is written by one task, so results do not depend on
 * the thread count. */

/* B(p, j) for p in [k0, k0 + kc), j in [j0, j0 + nn) -> dst[p * nr + j], zero
 * past nn. */
static void FC_(dense_pack_b)(const T *b, int64_t b_ps, int64_t b_js, int64_t k0, int64_t kc,
                              int64_t j0, int64_t nn, size_t nr, T *dst) {
  const int64_t inr = (int64_t)nr;
  if (b_js == 1) {
    for (int64_t p = 0; p < kc; p++) {
      memcpy(dst + p * inr, b + (k0 + p) * b_ps + j0, (size_t)nn * sizeof(T));
      for (int64_t j = nn; j < inr; j++) dst[p * inr + j] = 0;
    }
    return;
  }
  /* a transpose: 16 depth rows at a time, so source and panel lines stay in L1 */
  for (int64_t p0 = 0; p0 < kc; p0 += 16) {
    const int64_t pe = fc_min64(kc, p0 + 16);
    for (int64_t j = 0; j < inr; j++) {
      if (j < nn) {
        const T *src = b + (j0 + j) * b_js + k0 * b_ps;
        for (int64_t p = p0; p < pe; p++) dst[p * inr + j] = src[p * b_ps];
      } else {
        for (int64_t p = p0; p < pe; p++) dst[p * inr + j] = 0;
      }
    }
  }
}

/* Keras' Adam on the parameter the product's result is the gradient of (same
 * layout as C), applied block by block as soon as a block of C is final. */
typedef struct {
  T *p, *m, *v;
  T a, c1, c2, eps;
} FC_(dense_adam);

static void FC_(dense_adam_block)(const FC_(dense_adam) *o, const T *g, int64_t ld, int64_t i0,
                                  int64_t i1, int64_t j0, int64_t j1) {
  const T a = o->a, c1 = o->c1, c2 = o->c2, eps = o->eps;
  for (int64_t i = i0; i < i1; i++) {
    /* one row's run: distinct arrays, so the compiler vectorises the step */
    T *restrict p = o->p + i * ld + j0, *restrict m = o->m + i * ld + j0;
    T *restrict v = o->v + i * ld + j0;
    const T *restrict gr = g + i * ld + j0;
    for (int64_t j = 0; j < j1 - j0; j++) FC_ADAM_STEP(T, FC_SQRT, p[j], gr[j], m[j], v[j], a, c1, c2, eps);
  }
}

static int FC_(dense_gemm)(int64_t R, int64_t Q, int64_t K, const T *a, int64_t a_rstride,
                           int64_t a_pstride, const T *b, int64_t b_ps, int64_t b_js, T *c,
                           int64_t c_is, int64_t c_js, const T *bias,
                           const FC_(dense_adam) *adam) {
  const IGEMM_ENTRY_T uk = FC_(pick_igemm)(R, Q);
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr;
  const int direct = c_js == 1 && !bias;
  /* Columns in chunks of up to QB, each packed whole (depth blocks of KB, a
   * block's panel L1-sized) before the tiles run: two barriers per chunk, as
   * a sleeping team wakes slowly. A task is a group of up to ~64 rows (tg
   * tiles) by one column panel, run depth block by depth block, so the
   * group's slice of A is reused from L1/L2 by all its tiles. */
  const int64_t QB = 4 * nr, KB = 256;
  const int64_t rtiles = fc_ceil_div(R, mr);
  const int64_t qpanels_max = fc_ceil_div(fc_min64(Q, QB), nr);
  int64_t flops, tmp, bsize;
  if (!fc_mul(R, Q, &tmp) || !fc_mul(tmp, K, &flops) || !fc_mul(K, qpanels_max * nr, &bsize) ||
      !fc_mul(rtiles * mr, qpanels_max * nr, &tmp))
    return FC_EOVERFLOW;
  T *bpack = fc_alloc((size_t)bsize * sizeof(T));
  T *cbuf = direct ? NULL : fc_alloc((size_t)tmp * sizeof(T));
  if (!bpack || (!direct && !cbuf)) {
    free(bpack);
    free(cbuf);
    return FC_ENOMEM;
  }
  static const T never = 0; /* a `zero` no row pointer equals: no row is padding */
  const int64_t kblocks = fc_ceil_div(K, KB);
  FC_MAYBE_UNUSED const int nthreads =
      fc_threads_for(FC_NS_FLOPS(flops) * 2, rtiles * qpanels_max);
  int64_t tg = fc_max64(1, 64 / mr);
  while (tg > 1 && fc_ceil_div(rtiles, tg) * qpanels_max < 2 * (int64_t)nthreads) tg = (tg + 1) / 2;
  const int64_t ngroups = fc_ceil_div(rtiles, tg);

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  for (int64_t q0 = 0; q0 < Q; q0 += QB) {
    const int64_t qc = fc_min64(QB, Q - q0), qpanels = fc_ceil_div(qc, nr);
    /* block kb of panel jp at bpack + (kb * KB) * qpanels * nr + jp * kc * nr */
#pragma omp for schedule(static)
    for (int64_t t = 0; t < kblocks * qpanels; t++) {
      const int64_t k0 = t / qpanels * KB, jp = t % qpanels, kc = fc_min64(KB, K - k0);
      FC_(dense_pack_b)(b, b_ps, b_js, k0, kc, q0 + jp * nr, fc_min64(nr, qc - jp * nr),
                        (size_t)nr, bpack + k0 * qpanels * nr + jp * kc * nr);
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < ngroups * qpanels; t++) {
      const int64_t g0 = t / qpanels * tg, g1 = fc_min64(rtiles, g0 + tg);
      const int64_t jp = t % qpanels, j0 = jp * nr, n = fc_min64(nr, qc - j0);
      const size_t ldc = (size_t)(direct ? c_is : qpanels * nr);
      for (int64_t k0 = 0; k0 < K; k0 += KB) {
        const int64_t kc = fc_min64(KB, K - k0);
        for (int64_t it = g0; it < g1; it++) {
          const int64_t i0 = it * mr, m = fc_min64(mr, R - i0);
          const T *rows[16];
          for (int64_t i = 0; i < mr; i++) /* rows past R: any real row (not stored) */
            rows[i] = a + fc_min64(i0 + i, R - 1) * a_rstride;
          T *ct = direct ? c + i0 * c_is + q0 + j0 : cbuf + i0 * qpanels * nr + j0;
          uk.fn(1, (size_t)kc, rows, (size_t)(k0 * a_pstride), (size_t)a_pstride, &never,
                bpack + k0 * qpanels * nr + jp * kc * nr, ct, ldc, (size_t)m, (size_t)n, NULL,
                k0 > 0 ? FC_GEMM_ACCUMULATE : 0u);
        }
      }
      if (adam) /* only with a direct C: this task's block of it is final */
        FC_(dense_adam_block)(adam, c, c_is, g0 * mr, fc_min64(R, g1 * mr), q0 + j0, q0 + j0 + n);
    }
    if (!direct) {
      /* the C^T block -> c with the bias, 64 rows of C^T at a time (an L1-sized
       * block read across, written as runs of c when c_is == 1) */
      const int64_t ld = qpanels * nr;
#pragma omp for schedule(static)
      for (int64_t i0 = 0; i0 < R; i0 += 64) {
        const int64_t ie = fc_min64(R, i0 + 64);
        for (int64_t j = 0; j < qc; j++) {
          T *dst = c + (q0 + j) * c_js;
          const T *src = cbuf + j;
          if (bias) {
            for (int64_t i = i0; i < ie; i++) dst[i * c_is] = src[i * ld] + bias[i];
          } else {
            for (int64_t i = i0; i < ie; i++) dst[i * c_is] = src[i * ld];
          }
        }
      }
    }
  }
  free(bpack);
  free(cbuf);
  return FC_OK;
}

/* y (n x m) = x (n x k) @ w (k x m) + bias (m, or NULL); all C-contiguous. */
int FC_(dense)(int64_t n, int64_t k, int64_t m, const T *x, const T *w, const T *bias, T *y) {
  if (n < 0 || k < 0 || m < 0) return FC_EINVAL;
  if (n == 0 || m == 0) return FC_OK;
  if (k == 0) {
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) y[j * m + i] = bias ? bias[i] : 0;
    return FC_OK;
  }
  /* rows = units (w read in place, a column at a time), cols = batch */
  return FC_(dense_gemm)(m, n, k, w, 1, m, x, 1, k, y, 1, m, bias, NULL);
}

static int FC_(dense_backward_impl)(int64_t n, int64_t k, int64_t m, const T *gy, const T *x,
                                    const T *w, T *gx, T *gw, const FC_(dense_adam) *adam) {
  if (n < 0 || k < 0 || m < 0) return FC_EINVAL;
  if (k == 0) return FC_OK;
  if (gw && (n == 0 || m == 0)) {
    memset(gw, 0, (size_t)(k * m) * sizeof(T));
    if (adam) FC_(dense_adam_block)(adam, gw, m, 0, k, 0, m);
  }
  if (gx && n > 0 && m == 0) memset(gx, 0, (size_t)(n * k) * sizeof(T));
  if (n == 0 || m == 0) return FC_OK;
  int st = FC_OK;
  if (gx) /* rows = features (rows of w, contiguous), cols = batch */
    st = FC_(dense_gemm)(k, n, m, w, m, 1, gy, 1, m, gx, 1, k, NULL, NULL);
  if (st == FC_OK && gw) /* rows = features (columns of x), cols = units, depth = batch */
    st = FC_(dense_gemm)(k, m, n, x, 1, k, gy, m, 1, gw, m, 1, NULL, adam);
  return st;
}

/* gx (n x k) = gy (n x m) @ w^T and gw (k x m) = x^T @ gy; either output may be
 * NULL (not computed). */
int FC_(dense_backward)(int64_t n, int64_t k, int64_t m, const T *gy, const T *x, const T *w,
                        T *gx, T *gw) {
  return FC_(dense_backward_impl)(n, k, m, gy, x, w, gx, gw, NULL);
}

/* dense_backward, then one Keras Adam step of w with gradient gw (moments mom,
 * vel; alpha with the bias correction), each block of w updated as soon as
 * its gradient is final, while it is still in cache; gx is computed first,
 * from the w before the step. */
int FC_(dense_backward_adam)(int64_t n, int64_t k, int64_t m, const T *gy, const T *x, T *w,
                             T *gx, T *gw, T *mom, T *vel, double alpha, double beta_1,
                             double beta_2, double epsilon) {
  const FC_(dense_adam) adam = {w, mom, vel, (T)alpha, (T)(1.0 - beta_1), (T)(1.0 - beta_2),
                                (T)epsilon};
  if (!gw || !mom || !vel) return FC_EINVAL;
  return FC_(dense_backward_impl)(n, k, m, gy, x, w, gx, gw, &adam);
}

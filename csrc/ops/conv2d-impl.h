/* conv2d forward driver for one dtype; included by conv2d.c with
 *   T      the C type (float, double)
 *   FC_(x) the name prefix (fc_f32_##x, fc_f64_##x)
 *   GEMM   the table's GEMM entry (f32_gemm, f64_gemm)
 *
 * The depth of one packed block, kcb, keeps a kcb x NR panel of B within
 * about half of a 32 KiB L1 while the A panels stream from L2.
 *
 * Both layouts are one GEMM per (image, group), C = A B, cut into tiles for
 * the table's MR x NR microkernel:
 *   NCHW: C = y[n, g]  (Kg x P, row = output channel, ldc = P)
 *         A = weights  (Kg x Kd), packed once per call
 *         B = im2col   (Kd x P),  packed per pixel block into thread scratch
 *   NHWC: C = y[n]     (P x K, row = output pixel, column slice of group g)
 *         A = im2col   (P x Kd),  packed per pixel block into thread scratch
 *         B = weights  (Kd x Kg), packed once per call
 * with P = oh*ow output pixels and Kd = C/groups * r * s. The pixel blocks of
 * all images and groups are the tasks of one OpenMP loop; a task writes only
 * its own pixels of y, so no two threads write the same element. */

/* ---- packing: NCHW im2col -> NR-wide column panels ------------------------ */
/* Columns [q0, q0 + nn) of B (output pixels), depth [k0, k0 + kc), into
 * dst[p * nr + j]; columns nn..nr-1 are zero. xg is image n, group g. Pixels
 * of one output row form a run; with stride_w == 1 a run reads a contiguous
 * input row, copied with zero fill where it falls into the padding. */
static void FC_(pack_b_nchw)(const fc_conv2d_params *p, const T *xg, int64_t q0, int64_t nn,
                             int64_t k0, int64_t kc, size_t nr, T *dst) {
  enum { MAX_RUNS = 64 };
  int64_t run_j[MAX_RUNS], run_len[MAX_RUNS], run_ih[MAX_RUNS], run_iw[MAX_RUNS];
  int nruns = 0;
  for (int64_t j = 0; j < nn;) {
    const int64_t q = q0 + j, oy = q / p->ow, ox = q % p->ow;
    const int64_t len = fc_min64(nn - j, p->ow - ox);
    run_j[nruns] = j;
    run_len[nruns] = len;
    run_ih[nruns] = oy * p->stride_h - p->pad_top;
    run_iw[nruns] = ox * p->stride_w - p->pad_left;
    nruns++;
    j += len;
  }
  const int64_t hw = p->h * p->w;
  /* (ci, ry, sx) of depth index kk, stepped without divisions */
  int64_t ci = k0 / (p->r * p->s), ry = (k0 / p->s) % p->r, sx = k0 % p->s;
  for (int64_t kk = k0; kk < k0 + kc; kk++, dst += nr) {
    const T *xc = xg + ci * hw;
    for (int run = 0; run < nruns; run++) {
      T *d = dst + run_j[run];
      const int64_t len = run_len[run], ih = run_ih[run] + ry * p->dil_h;
      const int64_t iw0 = run_iw[run] + sx * p->dil_w;
      if (ih < 0 || ih >= p->h) {
        for (int64_t j = 0; j < len; j++) d[j] = 0;
        continue;
      }
      const T *row = xc + ih * p->w;
      if (p->stride_w == 1) {
        /* valid j: 0 <= iw0 + j < w */
        const int64_t lo = fc_min64(len, fc_max64(0, -iw0));
        const int64_t hi = fc_max64(lo, fc_min64(len, p->w - iw0));
        for (int64_t j = 0; j < lo; j++) d[j] = 0;
        for (int64_t j = lo; j < hi; j++) d[j] = row[iw0 + j];
        for (int64_t j = hi; j < len; j++) d[j] = 0;
      } else {
        for (int64_t j = 0; j < len; j++) {
          const int64_t iw = iw0 + j * p->stride_w;
          d[j] = (iw >= 0 && iw < p->w) ? row[iw] : 0;
        }
      }
    }
    for (int64_t j = nn; j < (int64_t)nr; j++) dst[j] = 0;
    if (++sx == p->s) {
      sx = 0;
      if (++ry == p->r) ry = 0, ci++;
    }
  }
}

/* ---- packing: NHWC im2col -> MR-tall row panels ---------------------------- */
/* Rows [q0, q0 + mm) of A (output pixels), depth [k0, k0 + kc) in (r, s, c)
 * order, into dst[p * mr + i]; rows mm..mr-1 are zero. xn is image n; cg0 is
 * the group's first input channel. */
static void FC_(pack_a_nhwc)(const fc_conv2d_params *p, const T *xn, int64_t cg0, int64_t q0,
                             int64_t mm, int64_t k0, int64_t kc, size_t mr, T *dst) {
  enum { MAX_MR = 32 };
  const int64_t cg = p->c / p->groups;
  int64_t ih0[MAX_MR], iw0[MAX_MR];
  for (int64_t i = 0; i < mm; i++) {
    const int64_t q = q0 + i;
    ih0[i] = q / p->ow * p->stride_h - p->pad_top;
    iw0[i] = q % p->ow * p->stride_w - p->pad_left;
  }
  /* (ry, sx, ci) of depth index kk, stepped without divisions */
  int64_t ci = k0 % cg, sx = (k0 / cg) % p->s, ry = k0 / (cg * p->s);
  for (int64_t kk = k0; kk < k0 + kc;) {
    const int64_t len = fc_min64(cg - ci, k0 + kc - kk);
    T *d = dst + (kk - k0) * (int64_t)mr;
    for (int64_t i = 0; i < (int64_t)mr; i++) {
      const int64_t ih = i < mm ? ih0[i] + ry * p->dil_h : -1;
      const int64_t iw = i < mm ? iw0[i] + sx * p->dil_w : -1;
      if (ih >= 0 && ih < p->h && iw >= 0 && iw < p->w) {
        const T *src = xn + (ih * p->w + iw) * p->c + cg0 + ci;
        for (int64_t l = 0; l < len; l++) d[l * (int64_t)mr + i] = src[l];
      } else {
        for (int64_t l = 0; l < len; l++) d[l * (int64_t)mr + i] = 0;
      }
    }
    kk += len;
    ci += len;
    if (ci == cg) {
      ci = 0;
      if (++sx == p->s) sx = 0, ry++;
    }
  }
}

/* ---- packing: weights ------------------------------------------------------ */
/* Packs a rows x depth matrix M (element (i, kk) at m[i * rstride + kk * kstride])
 * into panels of `tile` rows, block by block of kcb: block kb starts at
 * dst + k0 * rows_pad, panel t at + t * tile * kc, element (p, i) at + p * tile + i.
 * Rows past `rows` are zero. Used for A (NCHW) and, transposed, for B (NHWC). */
static void FC_(pack_panels)(const T *m, int64_t rows, int64_t depth, int64_t rstride,
                             int64_t kstride, size_t tile, int64_t kcb, T *dst) {
  const int64_t rows_pad = fc_ceil_div(rows, (int64_t)tile) * (int64_t)tile;
  for (int64_t k0 = 0; k0 < depth; k0 += kcb) {
    const int64_t kc = fc_min64(kcb, depth - k0);
    T *blk = dst + k0 * rows_pad;
    for (int64_t t = 0; t < rows_pad / (int64_t)tile; t++) {
      T *pan = blk + t * (int64_t)tile * kc;
      for (int64_t pp = 0; pp < kc; pp++)
        for (int64_t i = 0; i < (int64_t)tile; i++) {
          const int64_t row = t * (int64_t)tile + i;
          pan[pp * (int64_t)tile + i] = row < rows ? m[row * rstride + (k0 + pp) * kstride] : 0;
        }
    }
  }
}

/* ---- the driver ------------------------------------------------------------ */
int FC_(conv2d)(const fc_conv2d_params *p, const T *x, const T *weight, const T *bias, T *y) {
  int st = fc_conv2d_check(p);
  if (st != FC_OK || p->n == 0 || p->oh == 0 || p->ow == 0) return st;
  const fc_ukernel_table *tab = fc_table();
  const size_t mr = tab->GEMM.mr, nr = tab->GEMM.nr;
  const int nhwc = p->layout == FC_NHWC;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, kd = cg * p->r * p->s;
  const int64_t kcb = fc_max64(64, 16384 / (int64_t)(nr * sizeof(T)));
  /* weights: A (NCHW, rows = output channels) or B (NHWC, rows = columns of B) */
  const size_t wtile = nhwc ? nr : mr;
  const int64_t wrows_pad = fc_ceil_div(kg, (int64_t)wtile) * (int64_t)wtile;
  int64_t wsize, tmp;
  if (!fc_mul(wrows_pad, kd, &tmp) || !fc_mul(tmp, g_count, &wsize)) return FC_EOVERFLOW;
  T *wpack = fc_alloc((size_t)wsize * sizeof(T));
  if (!wpack) return FC_ENOMEM;
  for (int64_t g = 0; g < g_count; g++) {
    if (nhwc) /* weight (r, s, cg, k): element (col j, depth kk) at kk * k + g * kg + j */
      FC_(pack_panels)(weight + g * kg, kg, kd, 1, p->k, nr, kcb, wpack + g * wrows_pad * kd);
    else /* weight (k, cg, r, s): element (row i, depth kk) at (g * kg + i) * kd + kk */
      FC_(pack_panels)(weight + g * kg * kd, kg, kd, kd, 1, mr, kcb, wpack + g * wrows_pad * kd);
  }
  /* Pixel blocks: about kcb x 512 elements of packed im2col per block, fewer
   * pixels when that leaves too few tasks for the threads. */
  const size_t ptile = nhwc ? mr : nr;
  int64_t pblock = fc_max64(1, 512 / (int64_t)ptile) * (int64_t)ptile;
  const int64_t nthreads_max = fc_get_num_threads();
  while (pblock > (int64_t)ptile && p->n * g_count * fc_ceil_div(P, pblock) < 4 * nthreads_max)
    pblock -= (int64_t)ptile;
  const int64_t nblocks = fc_ceil_div(P, pblock);
  const int64_t ntasks = p->n * g_count * nblocks;
  const int64_t flops = 2 * p->n * p->k * P * kd / 1; /* a hint, overflow-free after checks */
  const int nthreads = fc_threads_for(flops, ntasks);
  const int64_t scratch = kcb * fc_ceil_div(pblock, (int64_t)ptile) * (int64_t)ptile;
  int failed = 0;
  const int64_t img_in = p->c * p->h * p->w, img_out = p->k * P;

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    T *buf = fc_alloc((size_t)scratch * sizeof(T));
    if (!buf) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < ntasks; t++) {
      if (!buf) continue;
      const int64_t blk = t % nblocks, g = (t / nblocks) % g_count, ni = t / (nblocks * g_count);
      const int64_t q0 = blk * pblock, qc = fc_min64(pblock, P - q0);
      const T *wg = wpack + g * wrows_pad * kd;
      for (int64_t k0 = 0; k0 < kd; k0 += kcb) {
        const int64_t kc = fc_min64(kcb, kd - k0);
        const unsigned flags = k0 > 0 ? FC_GEMM_ACCUMULATE
                               : bias ? (nhwc ? FC_GEMM_BIAS_COL : FC_GEMM_BIAS_ROW)
                                      : 0u;
        const T *wblk = wg + k0 * wrows_pad;
        if (!nhwc) {
          const T *xg = x + ni * img_in + g * cg * p->h * p->w;
          T *yg = y + ni * img_out + g * kg * P;
          for (int64_t j0 = 0; j0 < qc; j0 += (int64_t)nr) {
            const int64_t nn = fc_min64((int64_t)nr, qc - j0);
            T *bpan = buf + j0 * kc;
            FC_(pack_b_nchw)(p, xg, q0 + j0, nn, k0, kc, nr, bpan);
            for (int64_t i0 = 0; i0 < kg; i0 += (int64_t)mr) {
              const int64_t mm = fc_min64((int64_t)mr, kg - i0);
              tab->GEMM.fn((size_t)kc, wblk + i0 * kc, bpan, yg + i0 * P + q0 + j0, (size_t)P,
                           (size_t)mm, (size_t)nn, bias ? bias + g * kg + i0 : NULL, flags);
            }
          }
        } else {
          const T *xn = x + ni * img_in;
          T *yn = y + ni * img_out + g * kg;
          for (int64_t i0 = 0; i0 < qc; i0 += (int64_t)mr)
            FC_(pack_a_nhwc)(p, xn, g * cg, q0 + i0, fc_min64((int64_t)mr, qc - i0), k0, kc, mr,
                             buf + i0 * kc);
          for (int64_t j0 = 0; j0 < kg; j0 += (int64_t)nr) {
            const int64_t nn = fc_min64((int64_t)nr, kg - j0);
            for (int64_t i0 = 0; i0 < qc; i0 += (int64_t)mr) {
              const int64_t mm = fc_min64((int64_t)mr, qc - i0);
              tab->GEMM.fn((size_t)kc, buf + i0 * kc, wblk + j0 * kc, yn + (q0 + i0) * p->k + j0,
                           (size_t)p->k, (size_t)mm, (size_t)nn, bias ? bias + g * kg + j0 : NULL,
                           flags);
            }
          }
        }
      }
    }
    free(buf);
  }
  free(wpack);
  return failed ? FC_ENOMEM : FC_OK;
}

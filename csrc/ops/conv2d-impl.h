/* conv2d forward drivers for one dtype; included by conv2d.c with
 *   T      the C type (float, double)
 *   FC_(x) the name prefix (fc_f32_##x, fc_f64_##x)
 *   GEMM, IGEMM  the table's GEMM and indirect-GEMM entries (f32_gemm, ...)
 *
 * Convolution is a matrix product per (image, group), cut into tiles for an
 * MR x NR register-blocked FMA microkernel. Two algorithms:
 *
 * - Indirect GEMM (deep layers, C/groups * R * S >= FC_IGEMM_MIN_DEPTH):
 *   rows = output pixels, columns = output channels. The microkernel reads
 *   each input pixel's channels straight from an NHWC image through a
 *   buffer of row pointers (no im2col); the weights are packed once into
 *   NR-wide panels over the whole depth, so C is written once. NCHW calls
 *   transpose the input to NHWC first and store tiles transposed.
 * - Packed GEMM (shallow layers such as the lecture's 1-channel 3x3):
 *   rows = output channels (weights packed into MR-tall panels), columns =
 *   output pixels (im2col packed NR at a time into thread scratch, in L1).
 *   Input in NCHW memory order (which an NHWC input with one channel is);
 *   NHWC calls store tiles transposed.
 *
 * The pixel blocks of all images and groups are the tasks of one OpenMP
 * loop; a task writes only its own pixels of y, so no two threads write the
 * same element and results do not depend on the thread count. */

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

/* ---- layout change: NCHW -> NHWC, blocked for the cache, threaded ----------- */
static void FC_(nchw_to_nhwc)(const T *x, int64_t n, int64_t c, int64_t hw, T *out) {
  enum { BLK = 32 };
  const int64_t cblocks = fc_ceil_div(c, BLK), pblocks = fc_ceil_div(hw, BLK);
  const int64_t ntasks = n * cblocks * pblocks;
  const int nt = fc_threads_for(n * c * hw, ntasks);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t t = 0; t < ntasks; t++) {
    const int64_t pb = t % pblocks, cb = (t / pblocks) % cblocks, ni = t / (pblocks * cblocks);
    const T *src = x + ni * c * hw;
    T *dst = out + ni * c * hw;
    const int64_t c1 = fc_min64(c, (cb + 1) * BLK), q1 = fc_min64(hw, (pb + 1) * BLK);
    for (int64_t q = pb * BLK; q < q1; q++)
      for (int64_t ci = cb * BLK; ci < c1; ci++) dst[q * c + ci] = src[ci * hw + q];
  }
}

/* ---- packed GEMM (shallow layers) ------------------------------------------
 * x in NCHW memory order; weight element (output channel i of group g, depth
 * kk) at weight[(g * kg + i) * w_rstride + kk * w_kstride]. */
static int FC_(conv2d_packed)(const fc_conv2d_params *p, const T *x, const T *weight,
                              int64_t w_rstride, int64_t w_kstride, const T *bias, T *y,
                              int out_nhwc) {
  const fc_ukernel_table *tab = fc_table();
  const size_t mr = tab->GEMM.mr, nr = tab->GEMM.nr;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, kd = cg * p->r * p->s;
  /* a kcb x NR panel of B fills about half of a 32 KiB L1 */
  const int64_t kcb = fc_max64(64, 16384 / (int64_t)(nr * sizeof(T)));
  const int64_t mpad = fc_ceil_div(kg, (int64_t)mr) * (int64_t)mr;
  int64_t wsize, tmp;
  if (!fc_mul(mpad, kd, &tmp) || !fc_mul(tmp, g_count, &wsize)) return FC_EOVERFLOW;
  T *wpack = fc_alloc((size_t)wsize * sizeof(T));
  if (!wpack) return FC_ENOMEM;
  for (int64_t g = 0; g < g_count; g++)
    FC_(pack_panels)(weight + g * kg * w_rstride, kg, kd, w_rstride, w_kstride, mr, kcb,
                     wpack + g * mpad * kd);
  /* pixel blocks of up to 512, fewer when that would leave threads idle */
  int64_t pblock = fc_max64(1, 512 / (int64_t)nr) * (int64_t)nr;
  const int64_t nthreads_max = fc_get_num_threads();
  while (pblock > (int64_t)nr && p->n * g_count * fc_ceil_div(P, pblock) < 4 * nthreads_max)
    pblock -= (int64_t)nr;
  const int64_t nblocks = fc_ceil_div(P, pblock), ntasks = p->n * g_count * nblocks;
  const int nthreads = fc_threads_for(2 * p->n * p->k * P * kd, ntasks);
  const int64_t img_in = p->c * p->h * p->w, img_out = p->k * P;
  const unsigned tflag = out_nhwc ? FC_GEMM_TRANSPOSE_C : 0u;
  int failed = 0;

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    T *bpan = fc_alloc((size_t)(kcb * (int64_t)nr) * sizeof(T));
    if (!bpan) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < ntasks; t++) {
      if (!bpan) continue;
      const int64_t blk = t % nblocks, g = (t / nblocks) % g_count, ni = t / (nblocks * g_count);
      const int64_t q0 = blk * pblock, qc = fc_min64(pblock, P - q0);
      const T *xg = x + ni * img_in + g * cg * p->h * p->w;
      const T *wg = wpack + g * mpad * kd;
      for (int64_t k0 = 0; k0 < kd; k0 += kcb) {
        const int64_t kc = fc_min64(kcb, kd - k0);
        const unsigned flags = tflag | (k0 > 0 ? FC_GEMM_ACCUMULATE : bias ? FC_GEMM_BIAS_ROW : 0u);
        for (int64_t j0 = 0; j0 < qc; j0 += (int64_t)nr) {
          const int64_t nn = fc_min64((int64_t)nr, qc - j0), q = q0 + j0;
          FC_(pack_b_nchw)(p, xg, q, nn, k0, kc, nr, bpan);
          for (int64_t i0 = 0; i0 < kg; i0 += (int64_t)mr) {
            const int64_t ch = g * kg + i0;
            T *c = out_nhwc ? y + ni * img_out + q * p->k + ch : y + ni * img_out + ch * P + q;
            tab->GEMM.fn((size_t)kc, wg + k0 * mpad + i0 * kc, bpan, c,
                         (size_t)(out_nhwc ? p->k : P), (size_t)fc_min64((int64_t)mr, kg - i0),
                         (size_t)nn, bias ? bias + ch : NULL, flags);
          }
        }
      }
    }
    free(bpan);
  }
  free(wpack);
  return failed ? FC_ENOMEM : FC_OK;
}

/* ---- indirect GEMM (deep layers) --------------------------------------------
 * x in NHWC memory order; w_rsck holds the weights as (r, s, cg, k). */

/* Row pointers for output pixels [q0, q1) (q0 a multiple of mr) into
 * ind[((q - q0) / mr * ks + tap) * mr + (q - q0) % mr], relative to image 0 and
 * group 0 of x; `zero` in the padding and past q1 up to a whole panel. */
static void FC_(igemm_pointers)(const fc_conv2d_params *p, const T *x, const T *zero, int64_t q0,
                                int64_t q1, size_t mr, const T **ind) {
  const int64_t ks = p->r * p->s;
  const int64_t qend = q0 + fc_ceil_div(q1 - q0, (int64_t)mr) * (int64_t)mr;
  for (int64_t q = q0; q < qend; q++) {
    const T **pan = ind + (q - q0) / (int64_t)mr * ks * (int64_t)mr + (q - q0) % (int64_t)mr;
    const int valid = q < q1;
    const int64_t ih0 = valid ? q / p->ow * p->stride_h - p->pad_top : 0;
    const int64_t iw0 = valid ? q % p->ow * p->stride_w - p->pad_left : 0;
    for (int64_t ry = 0; ry < p->r; ry++)
      for (int64_t sx = 0; sx < p->s; sx++) {
        const int64_t ih = ih0 + ry * p->dil_h, iw = iw0 + sx * p->dil_w;
        const int inside = valid && ih >= 0 && ih < p->h && iw >= 0 && iw < p->w;
        pan[(ry * p->s + sx) * (int64_t)mr] = inside ? x + (ih * p->w + iw) * p->c : zero;
      }
  }
}

static int FC_(conv2d_igemm)(const fc_conv2d_params *p, const T *x, const T *w_rsck,
                             const T *bias, T *y, int out_nchw) {
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, ks = p->r * p->s, kd = ks * cg;
  const fc_ukernel_table *tab = fc_table();
  const int64_t pad_wide = fc_ceil_div(kg, (int64_t)tab->IGEMM[0].nr) * (int64_t)tab->IGEMM[0].nr;
  const int64_t pad_narrow = fc_ceil_div(kg, (int64_t)tab->IGEMM[1].nr) * (int64_t)tab->IGEMM[1].nr;
  const IGEMM_ENTRY_T ukernel = tab->IGEMM[pad_narrow < pad_wide ? 1 : 0];
  const size_t mr = ukernel.mr, nr = ukernel.nr;
  const int64_t npad = fc_ceil_div(kg, (int64_t)nr) * (int64_t)nr;
  /* pixel blocks of up to 256, fewer when that would leave threads idle */
  int64_t pblock = fc_ceil_div(256, (int64_t)mr) * (int64_t)mr;
  const int64_t nthreads_max = fc_get_num_threads();
  while (pblock > (int64_t)mr && p->n * g_count * fc_ceil_div(P, pblock) < 4 * nthreads_max)
    pblock -= (int64_t)mr;
  const int64_t nblocks = fc_ceil_div(P, pblock), ntasks = p->n * g_count * nblocks;
  /* One pointer table for all images and groups when it is small enough
   * (the usual case), else one per task, built for its block only. */
  const int64_t ppad = fc_ceil_div(P, (int64_t)mr) * (int64_t)mr;
  int64_t nptr;
  if (!fc_mul(ppad, ks, &nptr)) return FC_EOVERFLOW;
  const int shared_ind = nptr <= ((int64_t)1 << 22);
  int64_t wsize, tmp;
  if (!fc_mul(npad, kd, &tmp) || !fc_mul(tmp, g_count, &wsize)) return FC_EOVERFLOW;
  T *wpack = fc_alloc((size_t)wsize * sizeof(T));
  T *zero = fc_alloc((size_t)cg * sizeof(T));
  const T **ind = shared_ind ? fc_alloc((size_t)nptr * sizeof(T *)) : NULL;
  if (!wpack || !zero || (shared_ind && !ind)) {
    free(wpack);
    free(zero);
    free((void *)ind);
    return FC_ENOMEM;
  }
  memset(zero, 0, (size_t)cg * sizeof(T));
  for (int64_t g = 0; g < g_count; g++) /* (column j, depth kk) at kk * k + g * kg + j */
    FC_(pack_panels)(w_rsck + g * kg, kg, kd, 1, p->k, nr, kd, wpack + g * npad * kd);
  if (shared_ind) FC_(igemm_pointers)(p, x, zero, 0, P, mr, ind);
  const int nthreads = fc_threads_for(2 * p->n * p->k * P * kd, ntasks);
  const int64_t img_in = p->h * p->w * p->c, img_out = P * p->k;
  const unsigned flags = (bias ? FC_GEMM_BIAS_COL : 0u) | (out_nchw ? FC_GEMM_TRANSPOSE_C : 0u);
  int failed = 0;

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    const T **own = shared_ind ? NULL : fc_alloc((size_t)(pblock * ks) * sizeof(T *));
    if (!shared_ind && !own) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < ntasks; t++) {
      if (!shared_ind && !own) continue;
      const int64_t blk = t % nblocks, g = (t / nblocks) % g_count, ni = t / (nblocks * g_count);
      const int64_t q0 = blk * pblock, qc = fc_min64(pblock, P - q0);
      const T **bind = shared_ind ? ind + q0 * ks : own;
      if (!shared_ind) FC_(igemm_pointers)(p, x, zero, q0, q0 + qc, mr, own);
      const size_t a_offset = (size_t)(ni * img_in + g * cg);
      const T *wg = wpack + g * npad * kd;
      for (int64_t j0 = 0; j0 < kg; j0 += (int64_t)nr) {
        const int64_t nn = fc_min64((int64_t)nr, kg - j0), ch = g * kg + j0;
        for (int64_t i0 = 0; i0 < qc; i0 += (int64_t)mr) {
          const int64_t q = q0 + i0;
          T *c = out_nchw ? y + ni * img_out + ch * P + q : y + ni * img_out + q * p->k + ch;
          ukernel.fn((size_t)ks, (size_t)cg, bind + i0 * ks, a_offset, zero, wg + j0 * kd, c,
                     (size_t)(out_nchw ? P : p->k), (size_t)fc_min64((int64_t)mr, qc - i0),
                     (size_t)nn, bias ? bias + ch : NULL, flags);
        }
      }
    }
    free((void *)own);
  }
  free(wpack);
  free(zero);
  free((void *)ind);
  return failed ? FC_ENOMEM : FC_OK;
}

/* ---- the entry point ----------------------------------------------------------- */
int FC_(conv2d)(const fc_conv2d_params *p, const T *x, const T *weight, const T *bias, T *y) {
  const int st = fc_conv2d_check(p);
  if (st != FC_OK || p->n == 0 || p->oh == 0 || p->ow == 0) return st;
  const int64_t cg = p->c / p->groups, rs = p->r * p->s, kd = cg * rs;
  const int deep = kd >= FC_IGEMM_MIN_DEPTH;
  if (p->layout == FC_NHWC) {
    return FC_(conv2d_igemm)(p, x, weight, bias, y, 0);
  }
  if (!deep) return FC_(conv2d_packed)(p, x, weight, kd, 1, bias, y, 0);
  /* NCHW, deep: weights to (r, s, cg, k) and, unless c == 1, the input to NHWC */
  int64_t wn, xn;
  if (!fc_mul(kd, p->k, &wn) || !fc_mul(p->n * p->c, p->h * p->w, &xn)) return FC_EOVERFLOW;
  T *wt = fc_alloc((size_t)wn * sizeof(T));
  T *xt = p->c > 1 ? fc_alloc((size_t)xn * sizeof(T)) : NULL;
  if (!wt || (p->c > 1 && !xt)) {
    free(wt);
    free(xt);
    return FC_ENOMEM;
  }
  for (int64_t k = 0; k < p->k; k++)
    for (int64_t ci = 0; ci < cg; ci++)
      for (int64_t t = 0; t < rs; t++) wt[(t * cg + ci) * p->k + k] = weight[(k * cg + ci) * rs + t];
  if (xt) FC_(nchw_to_nhwc)(x, p->n, p->c, p->h * p->w, xt);
  const int r = FC_(conv2d_igemm)(p, xt ? xt : x, wt, bias, y, 1);
  free(wt);
  free(xt);
  return r;
}

/* conv2d backward (weight gradient) for one dtype; included by
 * conv2d_backward.c with T, FC_(x) and GEMM defined as for conv2d-impl.h.
 *
 *   gw[k, tap, c] = sum over images n and output pixels q of
 *                   gy[n, k, q] * x[n, c, pixel q moved by tap]
 *
 * is one GEMM per group with the pixels of all images as its depth:
 * rows = output channels k (A, packed from gy, MR tall), columns = (tap, c)
 * (B, packed from x in NHWC order, where a tap's channels are one memcpy),
 * in depth blocks of kcb pixels. The depth is cut into one contiguous range
 * per thread, each summing into its own partial gw; the partials are added
 * in thread order, so a fixed thread count gives bitwise-identical results
 * and no thread ever writes where another does. */

/* NCHW -> NHWC, in 32 x 32 tiles for the cache, threaded over tiles. */
static void FC_(to_nhwc)(const T *x, int64_t n, int64_t c, int64_t hw, T *out) {
  enum { BLK = 32 };
  const int64_t cb = fc_ceil_div(c, BLK), pb = fc_ceil_div(hw, BLK), ntasks = n * cb * pb;
  const int nt = fc_threads_for(n * c * hw, ntasks);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t t = 0; t < ntasks; t++) {
    const int64_t q0 = t % pb * BLK, c0 = t / pb % cb * BLK, ni = t / (pb * cb);
    const T *src = x + ni * c * hw;
    T *dst = out + ni * c * hw;
    const int64_t q1 = fc_min64(hw, q0 + BLK), c1 = fc_min64(c, c0 + BLK);
    for (int64_t q = q0; q < q1; q++)
      for (int64_t ci = c0; ci < c1; ci++) dst[q * c + ci] = src[ci * hw + q];
  }
}

/* A: rows [k0, k0 + kg) of group g's gy for pixels [q0, q0 + kc) of image ni,
 * as MR-tall panels dst[panel * mr * kc + p * mr + i]; rows past kg are zero. */
static void FC_(bwd_pack_gy)(const fc_conv2d_params *p, const T *gy, int64_t ni, int64_t ch0,
                             int64_t kg, int64_t q0, int64_t kc, size_t mr, T *dst) {
  const int64_t P = p->oh * p->ow, imr = (int64_t)mr;
  for (int64_t i0 = 0; i0 < kg; i0 += imr, dst += imr * kc) {
    const int64_t mm = fc_min64(imr, kg - i0);
    if (p->layout == FC_NHWC) {
      const T *src = gy + (ni * P + q0) * p->k + ch0 + i0;
      for (int64_t q = 0; q < kc; q++, src += p->k) {
        for (int64_t i = 0; i < mm; i++) dst[q * imr + i] = src[i];
        for (int64_t i = mm; i < imr; i++) dst[q * imr + i] = 0;
      }
    } else {
      for (int64_t i = 0; i < imr; i++) {
        const T *src = gy + (ni * p->k + ch0 + i0 + i) * P + q0;
        if (i < mm) {
          for (int64_t q = 0; q < kc; q++) dst[q * imr + i] = src[q];
        } else {
          for (int64_t q = 0; q < kc; q++) dst[q * imr + i] = 0;
        }
      }
    }
  }
}

/* B: for pixels [q0, q0 + kc) of image ni, the im2col row (tap, c) of group g
 * (channels cg0..cg0+cg of the NHWC image xh), as NR-wide panels
 * dst[panel * nr * kc + p * nr + j]; columns past r*s*cg are zero. */
static void FC_(bwd_pack_x)(const fc_conv2d_params *p, const T *xh, int64_t ni, int64_t cg0,
                            int64_t q0, int64_t kc, size_t nr, T *dst) {
  const int64_t cg = p->c / p->groups, kd = p->r * p->s * cg, inr = (int64_t)nr;
  const int64_t npan = fc_ceil_div(kd, inr);
  const T *img = xh + ni * p->h * p->w * p->c + cg0;
  int64_t oy = q0 / p->ow, ox = q0 % p->ow;
  for (int64_t q = 0; q < kc; q++) {
    T *row = dst + q * inr; /* column j of panel jp at row + jp * nr * kc + j */
    for (int64_t ry = 0; ry < p->r; ry++) {
      const int64_t ih = oy * p->stride_h - p->pad_top + ry * p->dil_h;
      for (int64_t sx = 0; sx < p->s; sx++) {
        const int64_t iw = ox * p->stride_w - p->pad_left + sx * p->dil_w;
        const T *src = ih >= 0 && ih < p->h && iw >= 0 && iw < p->w ? img + (ih * p->w + iw) * p->c : NULL;
        for (int64_t c = 0, kk = (ry * p->s + sx) * cg; c < cg;) {
          const int64_t jp = kk / inr, off = kk % inr, len = fc_min64(cg - c, inr - off);
          T *d = row + jp * inr * kc + off;
          if (src) {
            memcpy(d, src + c, (size_t)len * sizeof(T));
          } else {
            memset(d, 0, (size_t)len * sizeof(T));
          }
          c += len;
          kk += len;
        }
      }
    }
    for (int64_t j = kd - (npan - 1) * inr; j < inr; j++) row[(npan - 1) * inr * kc + j] = 0;
    if (++ox == p->ow) ox = 0, oy++;
  }
}

int FC_(conv2d_backward_weight)(const fc_conv2d_params *p, const T *x, const T *gy, T *gw) {
  const int st = fc_conv2d_check(p);
  if (st != FC_OK) return st;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, kd = p->r * p->s * cg, D = p->n * P;
  const int64_t gw_size = p->k * kd;
  memset(gw, 0, (size_t)gw_size * sizeof(T));
  if (D == 0) return FC_OK;
  const fc_ukernel_table *tab = fc_table();
  const size_t mr = tab->GEMM.mr, nr = tab->GEMM.nr;
  const int64_t kcb = fc_max64(64, 16384 / (int64_t)(nr * sizeof(T)));
  const int64_t mpad = fc_ceil_div(kg, (int64_t)mr) * (int64_t)mr;
  const int64_t npad = fc_ceil_div(kd, (int64_t)nr) * (int64_t)nr;
  const int nthreads = fc_threads_for(2 * p->k * kd * D, fc_ceil_div(D, kcb));
  T *xh = NULL, *partial = NULL;
  if (p->layout == FC_NCHW && p->c > 1) {
    xh = fc_alloc((size_t)(p->n * p->c * p->h * p->w) * sizeof(T));
    if (!xh) return FC_ENOMEM;
    FC_(to_nhwc)(x, p->n, p->c, p->h * p->w, xh);
  }
  if (nthreads > 1 && !(partial = calloc((size_t)(nthreads * gw_size), sizeof(T)))) {
    free(xh);
    return FC_ENOMEM;
  }
  const T *xin = xh ? xh : x; /* one channel: NCHW and NHWC are the same bytes */
  int failed = 0;

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
#ifdef _OPENMP
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
#else
    const int tid = 0, team = 1;
#endif
    T *acc = partial ? partial + tid * gw_size : gw;
    T *apack = fc_alloc((size_t)(mpad * kcb) * sizeof(T));
    T *bpack = fc_alloc((size_t)(npad * kcb) * sizeof(T));
    if (!apack || !bpack) {
#pragma omp atomic write
      failed = 1;
    } else {
      const int64_t d0 = D * tid / team, d1 = D * (tid + 1) / team;
      for (int64_t g = 0; g < g_count; g++) {
        T *accg = acc + g * kg * kd;
        for (int64_t b0 = d0; b0 < d1;) {
          const int64_t ni = b0 / P, q0 = b0 % P;
          const int64_t kc = fc_min64(kcb, fc_min64(d1 - b0, P - q0)); /* within one image */
          FC_(bwd_pack_gy)(p, gy, ni, g * kg, kg, q0, kc, mr, apack);
          FC_(bwd_pack_x)(p, xin, ni, g * cg, q0, kc, nr, bpack);
          for (int64_t j0 = 0; j0 < kd; j0 += (int64_t)nr)
            for (int64_t i0 = 0; i0 < kg; i0 += (int64_t)mr)
              tab->GEMM.fn((size_t)kc, apack + i0 * kc, bpack + j0 * kc, accg + i0 * kd + j0,
                           (size_t)kd, (size_t)fc_min64((int64_t)mr, kg - i0),
                           (size_t)fc_min64((int64_t)nr, kd - j0), NULL, FC_GEMM_ACCUMULATE);
          b0 += kc;
        }
      }
    }
    free(apack);
    free(bpack);
  }
  if (partial && !failed) /* in thread order: the same sums in the same order every run */
    for (int t = 0; t < nthreads; t++)
      for (int64_t i = 0; i < gw_size; i++) gw[i] += partial[t * gw_size + i];
  free(partial);
  free(xh);
  return failed ? FC_ENOMEM : FC_OK;
}

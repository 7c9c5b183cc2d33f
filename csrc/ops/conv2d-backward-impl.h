/* conv2d backward passes for one dtype; included by conv2d.c after
 * conv2d-impl.h, with the same T, FC_(x), GEMM, IGEMM and IGEMM_ENTRY_T.
 *
 *   gw[k, tap, c] = sum over images n and output pixels q of
 *                   gy[n, k, q] * x[n, c, pixel q moved by tap]
 *
 * is one GEMM per group with the pixels of all images as its depth:
 * rows = output channels k (A: read in place from gy by the indirect-GEMM
 * microkernel, one row pointer per channel, a_stride 1 in NCHW and k in
 * NHWC), columns = (tap, c) (B: packed from x in NHWC order, where a tap's
 * channels are one memcpy), in depth blocks of kcb pixels. The depth is cut
 * into one contiguous range per thread, each summing into its own partial
 * gw; the partials are added in thread order, so a fixed thread count gives
 * bitwise-identical results and no thread ever writes where another does. */

/* NCHW -> NHWC, in 32 x 32 tiles for the cache, threaded over tiles. */
static void FC_(to_nhwc)(const T *x, int64_t n, int64_t c, int64_t hw, T *out) {
  enum { BLK = 32 };
  const int64_t cb = fc_ceil_div(c, BLK), pb = fc_ceil_div(hw, BLK), ntasks = n * cb * pb;
  FC_MAYBE_UNUSED const int nt = fc_threads_for(FC_NS_BYTES(2 * n * c * hw * (int64_t)sizeof(T)), ntasks);
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

/* B: for pixels [q0, q0 + kc) of image ni, the im2col row (tap, c) of group g
 * (channels cg0..cg0+cg of the NHWC image xh), as NR-wide panels
 * dst[panel * nr * kcb + p * nr + j]. Columns past r*s*cg are never written:
 * the caller zeroes dst once, and the panel stride kcb keeps them in place. */
static void FC_(bwd_pack_x)(const fc_conv2d_params *p, const T *xh, int64_t ni, int64_t cg0,
                            int64_t q0, int64_t kc, int64_t kcb, size_t nr, T *dst) {
  const int64_t cg = p->c / p->groups, inr = (int64_t)nr;
  const T *img = xh + ni * p->h * p->w * p->c + cg0;
  int64_t oy = q0 / p->ow, ox = q0 % p->ow;
  for (int64_t q = 0; q < kc; q++) {
    T *row = dst + q * inr; /* column j of panel jp at row + jp * nr * kcb + j */
    for (int64_t ry = 0; ry < p->r; ry++) {
      const int64_t ih = oy * p->stride_h - p->pad_top + ry * p->dil_h;
      for (int64_t sx = 0; sx < p->s; sx++) {
        const int64_t iw = ox * p->stride_w - p->pad_left + sx * p->dil_w;
        const T *src = ih >= 0 && ih < p->h && iw >= 0 && iw < p->w ? img + (ih * p->w + iw) * p->c : NULL;
        for (int64_t c = 0, kk = (ry * p->s + sx) * cg; c < cg;) {
          const int64_t jp = kk / inr, off = kk % inr, len = fc_min64(cg - c, inr - off);
          T *d = row + jp * inr * kcb + off;
          if (len == 1) { /* one channel: no library call for one element */
            d[0] = src ? src[c] : 0;
          } else if (src) {
            memcpy(d, src + c, (size_t)len * sizeof(T));
          } else {
            memset(d, 0, (size_t)len * sizeof(T));
          }
          c += len;
          kk += len;
        }
      }
    }
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
  const IGEMM_ENTRY_T ukernel = FC_(pick_igemm)(kg, kd);
  const size_t mr = ukernel.mr, nr = ukernel.nr;
  const int64_t kcb = fc_max64(64, 16384 / (int64_t)(nr * sizeof(T)));
  const int64_t npad = fc_ceil_div(kd, (int64_t)nr) * (int64_t)nr;
  const int nhwc = p->layout == FC_NHWC;
  const int64_t a_stride = nhwc ? p->k : 1; /* from one pixel of a gy channel to the next */
  FC_MAYBE_UNUSED const int nthreads = fc_threads_for(FC_NS_FLOPS(2 * p->k * kd * D), fc_ceil_div(D, kcb));
  T *xh = NULL, *partial = NULL;
  T *zero = calloc((size_t)((kcb - 1) * a_stride + 1), sizeof(T));
  if (!zero) return FC_ENOMEM;
  if (!nhwc && p->c > 1) {
    xh = fc_alloc((size_t)(p->n * p->c * p->h * p->w) * sizeof(T));
    if (!xh) {
      free(zero);
      return FC_ENOMEM;
    }
    FC_(to_nhwc)(x, p->n, p->c, p->h * p->w, xh);
  }
  if (nthreads > 1 && !(partial = calloc((size_t)(nthreads * gw_size), sizeof(T)))) {
    free(xh);
    free(zero);
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
    T *bpack = calloc((size_t)(npad * kcb), sizeof(T)); /* zero columns past kd, once */
    if (!bpack) {
#pragma omp atomic write
      failed = 1;
    } else {
      enum { MAX_MR = 32 };
      const T *rows[MAX_MR];
      const int64_t d0 = D * tid / team, d1 = D * (tid + 1) / team;
      for (int64_t g = 0; g < g_count; g++) {
        T *accg = acc + g * kg * kd;
        for (int64_t b0 = d0; b0 < d1;) {
          const int64_t ni = b0 / P, q0 = b0 % P;
          const int64_t kc = fc_min64(kcb, fc_min64(d1 - b0, P - q0)); /* within one image */
          FC_(bwd_pack_x)(p, xin, ni, g * cg, q0, kc, kcb, nr, bpack);
          for (int64_t i0 = 0; i0 < kg; i0 += (int64_t)mr) {
            const int64_t mm = fc_min64((int64_t)mr, kg - i0);
            for (int64_t i = 0; i < (int64_t)mr; i++) {
              const int64_t ch = g * kg + i0 + i;
              rows[i] = i >= mm ? zero : nhwc ? gy + (ni * P + q0) * p->k + ch : gy + (ni * p->k + ch) * P + q0;
            }
            for (int64_t j0 = 0; j0 < kd; j0 += (int64_t)nr)
              ukernel.fn(1, (size_t)kc, rows, 0, (size_t)a_stride, zero, bpack + j0 * kcb,
                         accg + i0 * kd + j0, (size_t)kd, (size_t)mm,
                         (size_t)fc_min64((int64_t)nr, kd - j0), NULL, FC_GEMM_ACCUMULATE);
          }
          b0 += kc;
        }
      }
    }
    free(bpack);
  }
  if (partial && !failed) /* in thread order: the same sums in the same order every run */
    for (int t = 0; t < nthreads; t++)
      for (int64_t i = 0; i < gw_size; i++) gw[i] += partial[t * gw_size + i];
  free(partial);
  free(xh);
  free(zero);
  return failed ? FC_ENOMEM : FC_OK;
}

/* ---- input gradient by GEMM + col2im -----------------------------------------
 *   cols[(c, tap), q] = sum_k w[k, c, tap] * gy[n, k, q]     (one GEMM per image, group)
 *   gx[n, c, pixel q moved by tap] += cols[(c, tap), q]      (col2im)
 * rows = (c, tap) (A: the weights, packed once), columns = output pixels (B:
 * gy rows, packed per block), depth = k. Any stride, dilation and padding, no
 * zero-interleaving; the caller prefers the transposed convolution when the
 * input has many channels and stride 1. One task is one image, so the
 * overlapping scatters of neighbouring pixels never race. */
int FC_(conv2d_backward_input)(const fc_conv2d_params *p, const T *gy, const T *weight, T *gx) {
  const int st = fc_conv2d_check(p);
  if (st != FC_OK) return st;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, rs = p->r * p->s, kd = cg * rs, hw = p->h * p->w;
  const int nhwc = p->layout == FC_NHWC;
  memset(gx, 0, (size_t)(p->n * p->c * hw) * sizeof(T));
  if (p->n == 0 || P == 0) return FC_OK;
  const fc_ukernel_table *tab = fc_table();
  const size_t mr = tab->GEMM.mr, nr = tab->GEMM.nr;
  const int64_t mpad = fc_ceil_div(kd, (int64_t)mr) * (int64_t)mr;
  const int64_t pblock = fc_max64(1, 256 / (int64_t)nr) * (int64_t)nr;
  /* A: weight element (row kk = (c, tap), depth k) of group g */
  T *wpack = fc_alloc((size_t)(g_count * mpad * kg) * sizeof(T));
  if (!wpack) return FC_ENOMEM;
  for (int64_t g = 0; g < g_count; g++) {
    if (nhwc) /* weight (r, s, cg, k): (kk = (c, tap), k) at (tap * cg + c) * K + g * kg + k */
      for (int64_t i0 = 0; i0 < mpad; i0 += (int64_t)mr)
        for (int64_t k = 0; k < kg; k++)
          for (int64_t i = 0; i < (int64_t)mr; i++) {
            const int64_t kk = i0 + i, c = kk / rs, tap = kk % rs;
            wpack[g * mpad * kg + i0 * kg + k * (int64_t)mr + i] =
                kk < kd ? weight[(tap * cg + c) * p->k + g * kg + k] : 0;
          }
    else /* weight (k, cg, r, s): (kk, k) at (g * kg + k) * kd + kk */
      FC_(pack_panels)(weight + g * kg * kd, kd, kg, 1, kd, mr, kg, wpack + g * mpad * kg);
  }
  FC_MAYBE_UNUSED const int nthreads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), p->n);
  int failed = 0;

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    T *bpack = fc_alloc((size_t)(kg * pblock) * sizeof(T));
    T *cols = fc_alloc((size_t)(mpad * pblock) * sizeof(T));
    if (!bpack || !cols) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t ni = 0; ni < p->n; ni++) {
      if (!bpack || !cols) continue;
      for (int64_t g = 0; g < g_count; g++) {
        const T *wg = wpack + g * mpad * kg;
        for (int64_t q0 = 0; q0 < P; q0 += pblock) {
          const int64_t qc = fc_min64(pblock, P - q0);
          /* B panels: bpack[jp * kg * nr + k * nr + j] = gy[n, g * kg + k, q0 + jp * nr + j] */
          for (int64_t j0 = 0; j0 < qc; j0 += (int64_t)nr) {
            const int64_t nn = fc_min64((int64_t)nr, qc - j0);
            T *pan = bpack + j0 * kg;
            for (int64_t k = 0; k < kg; k++) {
              const int64_t ch = g * kg + k;
              for (int64_t j = 0; j < nn; j++) {
                const int64_t q = q0 + j0 + j;
                pan[k * (int64_t)nr + j] = nhwc ? gy[(ni * P + q) * p->k + ch] : gy[(ni * p->k + ch) * P + q];
              }
              for (int64_t j = nn; j < (int64_t)nr; j++) pan[k * (int64_t)nr + j] = 0;
            }
            for (int64_t i0 = 0; i0 < kd; i0 += (int64_t)mr)
              tab->GEMM.fn((size_t)kg, wg + i0 * kg, pan, cols + i0 * pblock + j0, (size_t)pblock,
                           (size_t)fc_min64((int64_t)mr, kd - i0), (size_t)nn, NULL, 0u);
          }
          /* col2im: cols[(c, tap), q] into gx */
          for (int64_t kk = 0; kk < kd; kk++) {
            const int64_t c = g * cg + kk / rs, ry = kk % rs / p->s, sx = kk % p->s;
            const T *src = cols + kk * pblock;
            int64_t oy = q0 / p->ow, ox = q0 % p->ow;
            for (int64_t j = 0; j < qc; j++) {
              const int64_t ih = oy * p->stride_h - p->pad_top + ry * p->dil_h;
              const int64_t iw = ox * p->stride_w - p->pad_left + sx * p->dil_w;
              if (ih >= 0 && ih < p->h && iw >= 0 && iw < p->w) {
                if (nhwc)
                  gx[((ni * p->h + ih) * p->w + iw) * p->c + c] += src[j];
                else
                  gx[(ni * p->c + c) * hw + ih * p->w + iw] += src[j];
              }
              if (++ox == p->ow) ox = 0, oy++;
            }
          }
        }
      }
    }
    free(bpack);
    free(cols);
  }
  free(wpack);
  return failed ? FC_ENOMEM : FC_OK;
}

/* The long-row form of the AVX-512F correlation row microkernel, with UL
 * accumulators: every whole pass of UL * LANES outputs of
 *   y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t]
 * loads each distinct x vector once and feeds it to every accumulator that
 * needs it (x[j + q] is tap q - u*LANES of accumulator u), with w as broadcast
 * memory operands. Each output adds its taps one by one, in order, as the
 * short form does, so the two forms' results are bitwise equal.
 *
 * Included by correlate-avx512.h once per accumulator count, with UL (8 or 16)
 * defined; defines FC_CAT(NAME, FC_CAT(_long, UL)), which returns how many
 * outputs it wrote (the whole passes: n rounded down to UL * LANES). More
 * accumulators than the FMA pipes' latency x throughput (4 x 2 = 8 on the CPUs
 * this targets) leave the pipes slack, at the price of longer ends (where only
 * some accumulators have a tap), so the 16 pay only for long rows. */
#if UL != 8 && UL != 16
#error "the end blocks' cases below are written for 8 or 16 accumulators"
#endif

static size_t FC_CAT(NAME, FC_CAT(_long, UL))(size_t n, size_t kh, size_t kw, const T *restrict x,
                                              size_t ldx, const T *restrict w, T *restrict y) {
  const size_t steady0 = (UL - 1) * LANES, qend = kw + (UL - 1) * LANES;
  size_t j = 0;
  for (; j + UL * LANES <= n; j += UL * LANES) {
    V acc[UL];
#pragma GCC unroll 16
    for (int u = 0; u < UL; u++) acc[u] = FC_VOP(setzero)();
    for (size_t i = 0; i < kh; i++) {
      const T *xr = x + i * ldx + j;
      const T *wr = w + i * kw;
      /* In the middle (steady0 <= q < kw) every accumulator has a tap, and
       * blocks of LANES steps share two loads (x[q + s] = alignr(b, a, s)), so
       * the loads that split cache lines drop to one in LANES steps; at both
       * ends only some accumulators have one. */
      for (size_t q = 0; q < qend; q++) {
        if (q >= steady0 && q + LANES <= kw && (q - steady0) % LANES == 0) {
          const V a = FC_VOP(loadu)(xr + q), b = FC_VOP(loadu)(xr + q + LANES);
          FC_LONG_STEPS(FC_FULL, q, a, b);
          q += LANES - 1;
          continue;
        }
        /* whole blocks at the ends: the same accumulators for all LANES steps
         * (not the very last block, whose b would end one element past the
         * row's n + kw - 1 values) */
        if ((q < steady0 && q % LANES == 0)
            || (q >= kw && (q - kw) % LANES == 0 && q + 2 * LANES <= qend)) {
          const V a = FC_VOP(loadu)(xr + q), b = FC_VOP(loadu)(xr + q + LANES);
          /* constant bounds per case, so no test per accumulator and step:
           * start block c has accumulators [0, c + 1), end block c [c + 1, UL) */
#define FC_ENDS(LO, HI)              \
  {                                  \
    const int u0 = (LO), u1 = (HI);  \
    FC_LONG_STEPS(FC_PART, q, a, b); \
  }                                  \
  break;
          switch (q < steady0 ? (int)(q / LANES) : UL + (int)((q - kw) / LANES)) {
            case 0: FC_ENDS(0, 1)
            case 1: FC_ENDS(0, 2)
            case 2: FC_ENDS(0, 3)
            case 3: FC_ENDS(0, 4)
            case 4: FC_ENDS(0, 5)
            case 5: FC_ENDS(0, 6)
            case 6: FC_ENDS(0, 7)
#if UL == 16
            case 7: FC_ENDS(0, 8)
            case 8: FC_ENDS(0, 9)
            case 9: FC_ENDS(0, 10)
            case 10: FC_ENDS(0, 11)
            case 11: FC_ENDS(0, 12)
            case 12: FC_ENDS(0, 13)
            case 13: FC_ENDS(0, 14)
            case 14: FC_ENDS(0, 15)
            case UL + 5: FC_ENDS(6, UL)
            case UL + 6: FC_ENDS(7, UL)
            case UL + 7: FC_ENDS(8, UL)
            case UL + 8: FC_ENDS(9, UL)
            case UL + 9: FC_ENDS(10, UL)
            case UL + 10: FC_ENDS(11, UL)
            case UL + 11: FC_ENDS(12, UL)
            case UL + 12: FC_ENDS(13, UL)
#endif
            case UL + 0: FC_ENDS(1, UL)
            case UL + 1: FC_ENDS(2, UL)
            case UL + 2: FC_ENDS(3, UL)
            case UL + 3: FC_ENDS(4, UL)
            case UL + 4: FC_ENDS(5, UL)
            default: FC_ENDS(UL - 2, UL) /* UL + UL - 3: the last whole block of the end */
          }
#undef FC_ENDS
          q += LANES - 1;
          continue;
        }
        const V xv = FC_VOP(loadu)(xr + q);
        if (q < steady0) { /* taps start: u <= q / LANES */
          const int u0 = 0, u1 = (int)(q / LANES) + 1;
          FC_PART(q, xv, 0);
        } else if (q < kw) {
          FC_FULL(q, xv, 0);
        } else { /* taps end: u > (q - kw) / LANES */
          const int u0 = (int)((q - kw) / LANES) + 1, u1 = UL;
          FC_PART(q, xv, 0);
        }
      }
    }
#pragma GCC unroll 16
    for (int u = 0; u < UL; u++) FC_VOP(storeu)(y + j + u * LANES, acc[u]);
  }
  return j;
}

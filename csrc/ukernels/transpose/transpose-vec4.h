/* The blocked transpose's portable body, for one element type: T (float,
 * double) and VEC4_NAME, the function's name, defined by the includer.
 *
 *   VEC4_NAME(np, nj, src, lds, dst, ldd, check):
 *     dst[p * ldd + j] = src[j * lds + p] for p < np, j < nj,
 *     by 4x4 blocks in registers (GCC/Clang vector extensions: SSE2 on
 *     x86-64, NEON on arm64, plain code elsewhere), about four times the
 *     scalar loop's speed; two rows left over by 4x2 pieces, the other edges
 *     by the scalar loop. Only copies values.
 *     With `check`, also returns whether every value copied is finite (x - x
 *     is 0 for those alone; one sum of them stays 0 unless a NaN comes in);
 *     without, returns 1.
 *
 * The portable transpose microkernel is this at check 0; the SIMD ones use it
 * for their edges, and the dense layer's finite-checking transpose at 1. */
#include <stddef.h>
#include <string.h>

static inline __attribute__((always_inline)) int VEC4_NAME(size_t np, size_t nj,
                                                           const T *restrict src, size_t lds,
                                                           T *restrict dst, size_t ldd, int check) {
  typedef T v4 __attribute__((vector_size(4 * sizeof(T))));
  const size_t np4 = np & ~(size_t)3, nj4 = nj & ~(size_t)3;
  v4 bad = {0, 0, 0, 0};
  T bad1 = 0;
  for (size_t j = 0; j < nj4; j += 4) {
    const T *s0 = src + j * lds;
    for (size_t p = 0; p < np4; p += 4) {
      v4 r0, r1, r2, r3;
      memcpy(&r0, s0 + p, sizeof r0);
      memcpy(&r1, s0 + lds + p, sizeof r1);
      memcpy(&r2, s0 + 2 * lds + p, sizeof r2);
      memcpy(&r3, s0 + 3 * lds + p, sizeof r3);
      if (check) bad += ((r0 - r0) + (r1 - r1)) + ((r2 - r2) + (r3 - r3));
      const v4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
      const v4 t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
      const v4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
      const v4 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
      const v4 o0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
      const v4 o1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
      const v4 o2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
      const v4 o3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
      memcpy(dst + p * ldd + j, &o0, sizeof o0);
      memcpy(dst + (p + 1) * ldd + j, &o1, sizeof o1);
      memcpy(dst + (p + 2) * ldd + j, &o2, sizeof o2);
      memcpy(dst + (p + 3) * ldd + j, &o3, sizeof o3);
    }
    for (size_t p = np4; p < np; p++)
      for (size_t jj = j; jj < j + 4; jj++) {
        const T v = src[jj * lds + p];
        if (check) bad1 += v - v;
        dst[p * ldd + jj] = v;
      }
  }
  size_t j = nj4;
  if (j + 2 <= nj) { /* two rows left: their 4-column pieces interleaved, 2 values a store */
    const T *s0 = src + j * lds;
    for (size_t p = 0; p < np4; p += 4) {
      v4 r0, r1;
      memcpy(&r0, s0 + p, sizeof r0);
      memcpy(&r1, s0 + lds + p, sizeof r1);
      if (check) bad += (r0 - r0) + (r1 - r1);
      const v4 lo = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
      const v4 hi = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
      memcpy(dst + p * ldd + j, &lo, 2 * sizeof(T));
      memcpy(dst + (p + 1) * ldd + j, (const T *)&lo + 2, 2 * sizeof(T));
      memcpy(dst + (p + 2) * ldd + j, &hi, 2 * sizeof(T));
      memcpy(dst + (p + 3) * ldd + j, (const T *)&hi + 2, 2 * sizeof(T));
    }
    for (size_t p = np4; p < np; p++)
      for (size_t jj = j; jj < j + 2; jj++) {
        const T v = src[jj * lds + p];
        if (check) bad1 += v - v;
        dst[p * ldd + jj] = v;
      }
    j += 2;
  }
  for (; j < nj; j++)
    for (size_t p = 0; p < np; p++) {
      const T v = src[j * lds + p];
      if (check) bad1 += v - v;
      dst[p * ldd + j] = v;
    }
  return bad[0] == 0 && bad[1] == 0 && bad[2] == 0 && bad[3] == 0 && bad1 == 0;
}

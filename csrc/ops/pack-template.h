/* Template of the GEMM drivers' packing, for one dtype: a matrix into
 * register-tile panels (the weights of conv2d and its gradients), and a
 * blocked transpose (channels-last blocks to channel rows and back, the dense
 * layer's operands). Both only copy values.
 *
 * Included once by f32-pack.c and by f64-pack.c, which define T (float,
 * double) and LOCAL(x), the dtype's names (fc_f32_##x, fc_f64_##x); the
 * functions are declared in conv2d-internal.h. */
#include <string.h>
#include "conv2d-internal.h"

/* Packs a rows x depth matrix M (element (i, kk) at m[i * rstride + kk * kstride])
 * into panels of `tile` rows, block by block of kcb: block kb starts at
 * dst + k0 * rows_pad, panel t at + t * tile * kc, element (p, i) at + p * tile + i.
 * Rows past `rows` are zero. Used for A (NCHW) and, transposed, for B (NHWC). */
void LOCAL(pack_panels)(const T *m, int64_t rows, int64_t depth, int64_t rstride,
                        int64_t kstride, size_t tile, int64_t kcb, T *dst) {
  const int64_t rows_pad = fc_ceil_div(rows, (int64_t)tile) * (int64_t)tile;
  for (int64_t k0 = 0; k0 < depth; k0 += kcb) {
    const int64_t kc = fc_min64(kcb, depth - k0);
    T *blk = dst + k0 * rows_pad;
    for (int64_t t = 0; t < rows_pad / (int64_t)tile; t++) {
      T *pan = blk + t * (int64_t)tile * kc;
      const int64_t valid = fc_min64((int64_t)tile, rows - t * (int64_t)tile);
      const T *src = m + t * (int64_t)tile * rstride + k0 * kstride;
      for (int64_t pp = 0; pp < kc; pp++, pan += tile, src += kstride) {
        if (rstride == 1) {
          memcpy(pan, src, (size_t)valid * sizeof(T));
        } else {
          for (int64_t i = 0; i < valid; i++) pan[i] = src[i * rstride];
        }
        for (int64_t i = valid; i < (int64_t)tile; i++) pan[i] = 0;
      }
    }
  }
}

/* dst[p * ldd + j] = src[j * lds + p] for p < np, j < nj: a transpose by 4x4
 * blocks in registers (GCC/Clang vector extensions: SSE2 on x86-64, NEON on
 * arm64, plain code elsewhere), about four times the scalar loop's speed.
 * Only copies values, so the result is the scalar loop's. With `check`, also
 * whether every value copied is finite (x - x is 0 for those alone; one sum
 * of them stays 0 unless a NaN comes in). */
typedef T LOCAL(v4) __attribute__((vector_size(4 * sizeof(T))));
static inline __attribute__((always_inline)) int LOCAL(transpose_impl)(
    const T *restrict src, int64_t lds, T *restrict dst, int64_t ldd, int64_t np, int64_t nj,
    int check) {
  const int64_t np4 = np & ~(int64_t)3, nj4 = nj & ~(int64_t)3;
  LOCAL(v4) bad = {0, 0, 0, 0};
  T bad1 = 0;
  for (int64_t j = 0; j < nj4; j += 4) {
    const T *s0 = src + j * lds;
    for (int64_t p = 0; p < np4; p += 4) {
      LOCAL(v4) r0, r1, r2, r3;
      memcpy(&r0, s0 + p, sizeof r0);
      memcpy(&r1, s0 + lds + p, sizeof r1);
      memcpy(&r2, s0 + 2 * lds + p, sizeof r2);
      memcpy(&r3, s0 + 3 * lds + p, sizeof r3);
      if (check) bad += ((r0 - r0) + (r1 - r1)) + ((r2 - r2) + (r3 - r3));
      const LOCAL(v4) t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
      const LOCAL(v4) t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
      const LOCAL(v4) t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
      const LOCAL(v4) t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
      const LOCAL(v4) o0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
      const LOCAL(v4) o1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
      const LOCAL(v4) o2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
      const LOCAL(v4) o3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
      memcpy(dst + p * ldd + j, &o0, sizeof o0);
      memcpy(dst + (p + 1) * ldd + j, &o1, sizeof o1);
      memcpy(dst + (p + 2) * ldd + j, &o2, sizeof o2);
      memcpy(dst + (p + 3) * ldd + j, &o3, sizeof o3);
    }
    for (int64_t p = np4; p < np; p++)
      for (int64_t jj = j; jj < j + 4; jj++) {
        const T v = src[jj * lds + p];
        if (check) bad1 += v - v;
        dst[p * ldd + jj] = v;
      }
  }
  for (int64_t j = nj4; j < nj; j++)
    for (int64_t p = 0; p < np; p++) {
      const T v = src[j * lds + p];
      if (check) bad1 += v - v;
      dst[p * ldd + j] = v;
    }
  return bad[0] == 0 && bad[1] == 0 && bad[2] == 0 && bad[3] == 0 && bad1 == 0;
}

void LOCAL(transpose)(const T *restrict src, int64_t lds, T *restrict dst, int64_t ldd,
                      int64_t np, int64_t nj) {
  (void)LOCAL(transpose_impl)(src, lds, dst, ldd, np, nj, 0);
}

int LOCAL(transpose_finite)(const T *restrict src, int64_t lds, T *restrict dst, int64_t ldd,
                            int64_t np, int64_t nj) {
  return LOCAL(transpose_impl)(src, lds, dst, ldd, np, nj, 1);
}

/* Template of the GEMM drivers' packing, for one dtype: a matrix into
 * register-tile panels (the weights of conv2d and its gradients), and a
 * blocked transpose (channels-last blocks to channel rows and back, the dense
 * layer's operands). Both only copy values.
 *
 * Included once by f32-pack.c and by f64-pack.c, which define T (float,
 * double), LOCAL(x), the dtype's names (fc_f32_##x, fc_f64_##x), and
 * TABLE(x), its members of the dispatch table (f32_##x, f64_##x); the
 * functions are declared in conv2d-internal.h. */
#include <string.h>
#include "conv2d-internal.h"

/* Packs a rows x depth matrix M (element (i, kk) at m[i * rstride + kk * kstride])
 * into panels of `tile` rows, block by block of kcb: block kb starts at
 * dst + k0 * rows_pad, panel t at + t * tile * kc, element (p, i) at + p * tile + i.
 * Rows past `rows` are zero. Used for A (NCHW) and, transposed, for B (NHWC).
 * With rstride 1 (a panel's values side by side, kstride apart from one depth
 * to the next) the source FC_PACK_PREFETCH_DEPTH depths ahead is fetched
 * while these are copied: the weights of (1,7,7,512) by 512 filters copied a
 * slice at a time (igemm-template.h, panel tasks) took the call 0.9x the time
 * at 1 thread (AMD EPYC Zen 4). */
#define FC_PACK_PREFETCH_DEPTH 16
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
          if (pp + FC_PACK_PREFETCH_DEPTH < kc) {
            const char *ahead = (const char *)(src + FC_PACK_PREFETCH_DEPTH * kstride);
            for (size_t at = 0; at < (size_t)valid * sizeof(T); at += 64) __builtin_prefetch(ahead + at);
          }
          memcpy(pan, src, (size_t)valid * sizeof(T));
        } else {
          for (int64_t i = 0; i < valid; i++) pan[i] = src[i * rstride];
        }
        for (int64_t i = valid; i < (int64_t)tile; i++) pan[i] = 0;
      }
    }
  }
}

/* dst[p * ldd + j] = src[j * lds + p] for p < np, j < nj: the table's
 * transpose microkernel (transpose.inc). Only copies values. */
#define VEC4_NAME LOCAL(transpose_vec4)
#include "../ukernels/transpose/transpose-vec4.h"
#undef VEC4_NAME

void LOCAL(transpose)(const T *restrict src, int64_t lds, T *restrict dst, int64_t ldd,
                      int64_t np, int64_t nj) {
  fc_table()->TABLE(transpose)((size_t)np, (size_t)nj, src, (size_t)lds, dst, (size_t)ldd);
}

/* The same transpose by transpose-vec4.h's 4x4 blocks; returns whether every
 * value is finite. */
int LOCAL(transpose_finite)(const T *restrict src, int64_t lds, T *restrict dst, int64_t ldd,
                            int64_t np, int64_t nj) {
  return LOCAL(transpose_vec4)((size_t)np, (size_t)nj, src, (size_t)lds, dst, (size_t)ldd, 1);
}

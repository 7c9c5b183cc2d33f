/* ==== relu forward and backward ===========================================
 * Splits the arrays into chunks of whole cache lines and runs the table's
 * microkernel on each, in parallel above the serial threshold. */
#include "internal.h"

#define FC_DEFINE_RELU(dtype, T)                                                           \
  int fc_##dtype##_relu(int64_t n, const T *x, T *y) {                                     \
    if (n < 0) return FC_EINVAL;                                                            \
    const fc_##dtype##_unary_ukernel fn = fc_table()->dtype##_relu;                         \
    const int64_t chunk = 1 << 16; /* elements per task: 256-512 KiB */                    \
    const int64_t ntasks = fc_ceil_div(n, chunk);                                           \
    const int nt = fc_threads_for(FC_NS_BYTES(2 * n * (int64_t)sizeof(T)), ntasks);          \
    if (nt <= 1) { /* no parallel region: entering one costs more than a small call */       \
      fn((size_t)n, x, y);                                                                  \
      return FC_OK;                                                                         \
    }                                                                                       \
    _Pragma("omp parallel for schedule(static) num_threads(nt)")                            \
    for (int64_t t = 0; t < ntasks; t++) {                                                  \
      const int64_t i0 = t * chunk;                                                         \
      fn((size_t)fc_min64(chunk, n - i0), x + i0, y + i0);                                  \
    }                                                                                       \
    return FC_OK;                                                                           \
  }

FC_DEFINE_RELU(f32, float)
FC_DEFINE_RELU(f64, double)

#define FC_DEFINE_RELU_BWD(dtype, T)                                                       \
  int fc_##dtype##_relu_backward(int64_t n, const T *gy, const T *x, T *gx) {             \
    if (n < 0) return FC_EINVAL;                                                            \
    const fc_##dtype##_binary_ukernel fn = fc_table()->dtype##_relu_bwd;                    \
    const int64_t chunk = 1 << 16;                                                          \
    const int64_t ntasks = fc_ceil_div(n, chunk);                                           \
    const int nt = fc_threads_for(FC_NS_BYTES(3 * n * (int64_t)sizeof(T)), ntasks);          \
    if (nt <= 1) {                                                                          \
      fn((size_t)n, gy, x, gx);                                                             \
      return FC_OK;                                                                         \
    }                                                                                       \
    _Pragma("omp parallel for schedule(static) num_threads(nt)")                            \
    for (int64_t t = 0; t < ntasks; t++) {                                                  \
      const int64_t i0 = t * chunk;                                                         \
      fn((size_t)fc_min64(chunk, n - i0), gy + i0, x + i0, gx + i0);                        \
    }                                                                                       \
    return FC_OK;                                                                           \
  }

FC_DEFINE_RELU_BWD(f32, float)
FC_DEFINE_RELU_BWD(f64, double)

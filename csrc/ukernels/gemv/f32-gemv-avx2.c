/* f32 small-batch dense product and sparse row product, AVX2+FMA: 4 ymm (32 columns) per step for
 * one row, 2 for two to four, so accumulators and loads fit the 16 registers. */
#include <immintrin.h>
#include "../avx2-store.h"
#define NAME fc_f32_gemv_ukernel__avx2
#define SPARSE_NAME fc_f32_gemv_sparse_ukernel__avx2
#define FC_GEMV_BLOCK fc_f32_gemv_block_avx2
#define T float
#define V __m256
#define LANES 8
#define WIDTH(nb) ((nb) == 1 ? 4 : 2)
#define SPARSE_ACC 12
#define WMAX 4
#define MASK_T __m256i
#define MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define ZERO() _mm256_setzero_ps()
#define LOAD(p, m) _mm256_maskload_ps((p), (m))
#define LOADU(p) _mm256_loadu_ps(p)
#define BCAST(s) _mm256_set1_ps(s)
#define FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define ADD(a, b) _mm256_add_ps((a), (b))
#define STORE(p, m, v) fc_avx2_maskstore_ps((p), (m), (v)) /* avx2-store.h */
#include "../gemv-simd.h"

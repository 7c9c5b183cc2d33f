/* f64 small-batch dense product and sparse row product, AVX2+FMA: 4 ymm (16 columns) per step for
 * one row, 2 for two to four. */
#include <immintrin.h>
#include "../avx2-store.h"
#define NAME fc_f64_gemv_ukernel__avx2
#define SPARSE_NAME fc_f64_gemv_sparse_ukernel__avx2
#define FC_GEMV_BLOCK fc_f64_gemv_block_avx2
#define T double
#define V __m256d
#define LANES 4
#define WIDTH(nb) ((nb) == 1 ? 4 : 2)
#define SPARSE_ACC 12
#define WMAX 4
#define MASK_T __m256i
#define MASK(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n)), _mm256_setr_epi64x(0, 1, 2, 3))
#define ZERO() _mm256_setzero_pd()
#define LOAD(p, m) _mm256_maskload_pd((p), (m))
#define LOADU(p) _mm256_loadu_pd(p)
#define BCAST(s) _mm256_set1_pd(s)
#define FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define ADD(a, b) _mm256_add_pd((a), (b))
#define STORE(p, m, v) fc_avx2_maskstore_pd((p), (m), (v)) /* avx2-store.h */
#include "../gemv-simd.h"

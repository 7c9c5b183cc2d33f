/* f64 small-batch dense product and sparse row product, AVX-512F: 8 zmm (64 columns) per step for
 * one row, 4 (32 columns) for two to four. */
#include <immintrin.h>
#define NAME fc_f64_gemv_ukernel__avx512
#define SPARSE_NAME fc_f64_gemv_sparse_ukernel__avx512
#define FC_GEMV_BLOCK fc_f64_gemv_block_avx512
#define T double
#define V __m512d
#define LANES 8
#define WIDTH(nb) ((nb) == 1 ? 8 : 4)
#define SPARSE_ACC 24
#define WMAX 8
#define MASK_T __mmask8
#define MASK(n) ((__mmask8)((1u << (n)) - 1u))
#define ZERO() _mm512_setzero_pd()
#define LOAD(p, m) _mm512_maskz_loadu_pd((m), (p))
#define LOADU(p) _mm512_loadu_pd(p)
#define BCAST(s) _mm512_set1_pd(s)
#define FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define ADD(a, b) _mm512_add_pd((a), (b))
#define STORE(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#include "../gemv-simd.h"

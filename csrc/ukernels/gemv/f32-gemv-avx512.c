/* f32 small-batch dense product and sparse row product, AVX-512F: 8 zmm (128 columns) per step for
 * one row, 4 (64 columns) for two to four. */
#include <immintrin.h>
#define NAME fc_f32_gemv_ukernel__avx512
#define SPARSE_NAME fc_f32_gemv_sparse_ukernel__avx512
#define FC_GEMV_BLOCK fc_f32_gemv_block_avx512
#define T float
#define V __m512
#define LANES 16
#define WIDTH(nb) ((nb) == 1 ? 8 : 4)
#define SPARSE_ACC 24
#define WMAX 8
#define MASK_T __mmask16
#define MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define ZERO() _mm512_setzero_ps()
#define LOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define LOADU(p) _mm512_loadu_ps(p)
#define BCAST(s) _mm512_set1_ps(s)
#define FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define ADD(a, b) _mm512_add_ps((a), (b))
#define STORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#include "../gemv-simd.h"

/* What an AVX2 f32/f64 template needs beyond the ps/pd suffix, chosen by the
 * including file's LANES (8 for f32, 4 for f64): a masked tail's lane masks
 * for maskload/maskstore, built as FC_MI_CMPGT(FC_MI_SET1((FC_MI)left),
 * FC_MI_LANES) (all ones in the lanes j < left), with FC_MI the integer of one
 * lane; and FC_BROADCAST, the broadcast of one value from memory. Include only
 * from files compiled with AVX2 flags. */
#include <immintrin.h>

#if LANES == 8
#define FC_MI int
#define FC_MI_SET1 _mm256_set1_epi32
#define FC_MI_CMPGT _mm256_cmpgt_epi32
#define FC_MI_LANES _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define FC_BROADCAST _mm256_broadcast_ss
#elif LANES == 4
#define FC_MI long long
#define FC_MI_SET1 _mm256_set1_epi64x
#define FC_MI_CMPGT _mm256_cmpgt_epi64
#define FC_MI_LANES _mm256_setr_epi64x(0, 1, 2, 3)
#define FC_BROADCAST _mm256_broadcast_sd
#else
#error "avx2-lanes.h: LANES must be 8 (f32) or 4 (f64)"
#endif

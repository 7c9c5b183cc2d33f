/* f32 ReLU-gradient microkernel, AVX2: the backward kernel of the template in
 * relu-avx2.h, at float. */
#define RELU_BWD_NAME fc_f32_relu_bwd_ukernel__avx2
#define T float
#define V __m256
#define LANES 8
#define SFX ps
#include "relu-avx2.h"

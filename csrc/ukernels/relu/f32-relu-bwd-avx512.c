/* f32 ReLU-gradient microkernel, AVX-512F: the backward kernel of the template in
 * relu-avx512.h, at float. */
#define RELU_BWD_NAME fc_f32_relu_bwd_ukernel__avx512
#define T float
#define V __m512
#define MASK __mmask16
#define LANES 16
#define SFX ps
#include "relu-avx512.h"

/* f32 ReLU microkernel, AVX2: the forward kernel of the template in
 * relu-avx2.h, at float. */
#define RELU_NAME fc_f32_relu_ukernel__avx2
#define T float
#define V __m256
#define LANES 8
#define SFX ps
#include "relu-avx2.h"

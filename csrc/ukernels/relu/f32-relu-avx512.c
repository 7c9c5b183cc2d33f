/* f32 ReLU microkernel, AVX-512F: the forward kernel of the template in
 * relu-avx512.h, at float. */
#define RELU_NAME fc_f32_relu_ukernel__avx512
#define T float
#define V __m512
#define MASK __mmask16
#define LANES 16
#define SFX ps
#include "relu-avx512.h"

/* f64 ReLU-gradient microkernel, AVX2: the backward kernel of the template in
 * relu-avx2.h, at double. */
#define RELU_BWD_NAME fc_f64_relu_bwd_ukernel__avx2
#define T double
#define V __m256d
#define LANES 4
#define SFX pd
#include "relu-avx2.h"

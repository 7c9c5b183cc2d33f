/* f64 ReLU microkernel, AVX2: the forward kernel of the template in
 * relu-avx2.h, at double. */
#define RELU_NAME fc_f64_relu_ukernel__avx2
#define T double
#define V __m256d
#define LANES 4
#define SFX pd
#include "relu-avx2.h"

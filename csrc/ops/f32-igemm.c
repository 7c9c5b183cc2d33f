/* f32 indirect GEMM: tile choice, row pointers, tile sweeps and conv2d's
 * indirect-GEMM driver; the template in igemm-template.h at float. */
#define T float
#define LOCAL(x) fc_f32_##x
#define TABLE(x) f32_##x
#include "igemm-template.h"

/* f32 softmax driver: the template in softmax-template.h at float. */
#define SOFTMAX fc_f32_softmax
#define T float
#define EXP expf
#define LOCAL(x) fc_f32_##x
#include "softmax-template.h"

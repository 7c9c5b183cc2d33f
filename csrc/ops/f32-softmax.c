/* f32 softmax driver and cross-entropy head: the template in softmax-template.h at float. */
#define SOFTMAX fc_f32_softmax
#define SOFTMAX_XENT fc_f32_softmax_xent
#define T float
#define TABLE_SOFTMAX f32_softmax
#define LOCAL(x) fc_f32_##x
#include "softmax-template.h"

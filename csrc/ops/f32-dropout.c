/* f32 dropout driver: the template in dropout-template.h at float. */
#define DROPOUT fc_f32_dropout
#define T float
#define BITS uint32_t
#define LOCAL(x) fc_f32_##x
#include "dropout-template.h"

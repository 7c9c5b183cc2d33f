/* f32 instances of maxpool-code-scalar.h */
#define T float
#define NAME fc_f32_maxpool_code_ukernel__scalar
#define UNPOOL_NAME fc_f32_unpool_code_ukernel__scalar
#include "maxpool-code-scalar.h"

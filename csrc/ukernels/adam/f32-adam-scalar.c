/* f32 Adam microkernel, portable C: the template in adam-scalar.h at float, where the
 * order of IEEE operations and the subnormal flush are documented (the AVX2 kernel calls
 * this one for its tail). */
#define NAME fc_f32_adam_ukernel__scalar
#define T float
#define PARAMS fc_f32_adam_params
#define ABS fabsf
#define SQRT sqrtf
#define TINY FC_F32_ADAM_FLOOR
#include "adam-scalar.h"

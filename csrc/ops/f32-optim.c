/* f32 optimizer update drivers: the template in optim-template.h at float. */
#define ADAM_UPDATE fc_f32_adam_update
#define T float
#define ADAM_UKERNEL fc_f32_adam_ukernel
#define ADAM_PARAMS fc_f32_adam_params
#define TABLE_ADAM f32_adam
#define LOCAL(x) fc_f32_##x
#include "optim-template.h"

/* f32 dense layer products (forward, gradients, backward + Adam): the
 * template in dense-template.h at float. */
#define DENSE fc_f32_dense
#define DENSE_PLAN fc_f32_dense_plan
#define DENSE_BACKWARD fc_f32_dense_backward
#define DENSE_BACKWARD_PLAN fc_f32_dense_backward_plan
#define DENSE_BACKWARD_ADAM fc_f32_dense_backward_adam
#define T float
#define LOCAL(x) fc_f32_##x
#define TABLE(x) f32_##x
#include "dense-template.h"

/* f32 correlation row microkernel, portable C, 8 outputs per pass: the
 * template in ../correlate-scalar.h at float. */
#define NAME fc_f32_correlate_ukernel_1x8__scalar
#define T float
#include "../correlate-scalar.h"

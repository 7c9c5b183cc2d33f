/* f64 ndimage microkernels (avx2): the template in ../ndimage-exact.h at
 * double, 16 outputs per pass. */
#define T double
#define NR 16
#define VL 4
#define LINE fc_f64_ndline_ukernel__avx2
#define RUNSUM fc_f64_runsum_ukernel__avx2
#define RUNMEAN fc_f64_runmean_ukernel__avx2
#define ACC fc_f64_ndcorrelate_ukernel__avx2
#include "../ndimage-exact.h"

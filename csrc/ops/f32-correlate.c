/* f32 1-D, 2-D and N-d correlation drivers: the template in
 * correlate-template.h at float. The N-d row kernel is the 2-D one, which writes y (FMA). */
#define CORRELATE1D fc_f32_correlate1d
#define CORRELATE2D fc_f32_correlate2d
#define CORRELATE2D_STACKED fc_f32_correlate2d_stacked
#define CORRELATEND fc_f32_correlatend
#define CORRELATEND_FINITE fc_f32_correlatend_finite
#define T float
#define CORRELATE_UKERNEL fc_f32_correlate_ukernel
#define TABLE_CORRELATE f32_correlate
#define TABLE_NDCORRELATE f32_correlate
#define TYPED_IO 0 /* fc_correlatend_typed */
#define ND_ACCUMULATES 0
#define LOCAL(x) fc_f32_##x
#include "correlate-template.h"

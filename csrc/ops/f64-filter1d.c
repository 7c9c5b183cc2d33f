/* f64 drivers of scipy.ndimage's 1-D filters along one axis: the template in
 * filter1d-template.h at double. */
#define CORRELATE_AXIS fc_f64_correlate_axis
#define UNIFORM_AXIS fc_f64_uniform_axis
#define T double
#define NDLINE_UKERNEL fc_f64_ndline_ukernel
#define RUNSUM_UKERNEL fc_f64_runsum_ukernel
#define RUNLINES_UKERNEL fc_f64_runlines_ukernel
#define TABLE_NDLINE f64_ndline
#define TABLE_RUNSUM f64_runsum
#define TABLE_RUNLINES f64_runlines
#define LOCAL(x) fc_f64_##x
#include "filter1d-template.h"

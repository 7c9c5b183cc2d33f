/* f64 packing of panels and blocked transpose: the template in pack-template.h
 * at double. */
#define T double
#define LOCAL(x) fc_f64_##x
#define TABLE(x) f64_##x
#include "pack-template.h"

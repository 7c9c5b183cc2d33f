/* f32 packing of panels and blocked transpose: the template in pack-template.h
 * at float. */
#define T float
#define LOCAL(x) fc_f32_##x
#define TABLE(x) f32_##x
#include "pack-template.h"

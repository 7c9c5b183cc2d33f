/* FMA-throughput probe, portable C: `iters` steps of 16 independent scalar
 * multiply-add chains (the compiler may contract or vectorize them; this is
 * the peak the scalar path can hope for). 16 * 2 flops per step. */
#include <stdint.h>

float fc_f32_fma_probe__scalar(uint64_t iters) {
  float acc[16];
  for (int i = 0; i < 16; i++) acc[i] = (float)i;
  for (uint64_t t = 0; t < iters; t++)
    for (int i = 0; i < 16; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
  float s = 0.0f;
  for (int i = 0; i < 16; i++) s += acc[i];
  return s;
}

/* ==== a model's inference pass: the scratch it needs ==========================
 * The sizes of the caller's scratch for fc_*_forward and fc_*_forward_batches,
 * and a sample's work, which do not depend on the dtype. The passes themselves
 * are in forward-template.h (f32-forward.c, f64-forward.c). */
#include "forward-chain.h"

int64_t fc_forward_batches_scratch_elems(int64_t n, int64_t batch, int n_steps,
                                         const fc_step *steps) {
  if (n < 0 || batch < 1) return -1;
  int64_t first, final, half[2];
  const int64_t one = fc_chain_scratch(fc_min64(n, batch), n_steps, steps, &first, &final, half);
  if (one < 0) return one;
  const int64_t nt = fc_batches_threads(n, batch, n_steps, steps);
  int64_t t;
  return fc_mul(one, nt, &t) ? t : -2;
}

int64_t fc_forward_scratch_elems(int64_t n, int n_steps, const fc_step *steps,
                                 int64_t *in_elems, int64_t *out_elems) {
  int64_t first, final, half[2];
  const int64_t need = fc_chain_scratch(n, n_steps, steps, &first, &final, half);
  if (need >= 0 && in_elems) *in_elems = first;
  if (need >= 0 && out_elems) *out_elems = final;
  return need;
}

int64_t fc_forward_macs(int n_steps, const fc_step *steps) {
  int64_t first, final, half[2];
  return fc_chain(n_steps, steps, &first, &final, half) < 0 ? -1 : fc_chain_macs(n_steps, steps);
}

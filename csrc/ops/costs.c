/* fc_costs: the table of fastconv/costs.def, for the Python layer and tools. */
#include "fastconv/fastconv.h"

static const fc_cost fc_cost_table[] = {
#define FC_COST(name, value, doc) {#name, (double)(value), 1, doc},
#define FC_COST_REAL(name, value, doc) {#name, value, 0, doc},
#include "fastconv/costs.def"
};

const fc_cost *fc_costs(int *count) {
  if (count) *count = (int)(sizeof fc_cost_table / sizeof fc_cost_table[0]);
  return fc_cost_table;
}

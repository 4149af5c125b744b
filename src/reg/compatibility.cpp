#include "reg/compatibility.h"

#include <stdexcept>
#include <string>

namespace gantry::reg {

void check_compatible(const models::ModelConfig& m, const DTechniques& t) {
  models::validate(m);
  std::string coupling;
  if (m.d_norm == models::NormKind::kBatch)
    coupling = "batch norm in D";
  else if (m.mbd_kernels > 0)
    coupling = "minibatch discrimination in D";
  if (coupling.empty()) return;
  const char* per_sample = t.grad_norm == GradNorm::kGN    ? "gradient normalization (GN)"
                           : t.grad_norm == GradNorm::kPGN ? "penalty gradient normalization (PGN)"
                           : t.wgan_gp                     ? "WGAN-GP"
                           : t.r1                          ? "R1"
                                                           : nullptr;
  if (per_sample)
    throw std::invalid_argument(std::string(per_sample) +
                                " needs per-sample gradients of D and cannot be combined with " + coupling +
                                " (it couples the samples of a batch)");
}

}  // namespace gantry::reg

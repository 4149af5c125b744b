// Combinations refused before training starts (docs/TECHNIQUES.md):
// GN, PGN, WGAN-GP and R1 take per-sample input gradients from ONE autograd
// call on Σ_b D(x_b), which is only right when D couples no samples — so
// they are refused with batch norm or minibatch discrimination in D. Virtual
// batch norm is for G only (models::validate refuses it in D).
#pragma once
#include "models/model_config.h"
#include "reg/gradient_normalization.h"

namespace gantry::reg {

struct DTechniques {
  GradNorm grad_norm = GradNorm::kNone;
  bool wgan_gp = false;
  bool r1 = false;
};

// Throws std::invalid_argument with the conflicting pair named.
void check_compatible(const models::ModelConfig& model, const DTechniques& techniques);

}  // namespace gantry::reg

// Adversarial losses on D's (possibly GN/PGN-normalised) outputs, means over
// the rank's batch (GradSync's average makes them global means):
//   bce (non-saturating): L_D = BCE(D(x), α) + BCE(D(G(z)), 0),  L_G = BCE(D(G(z)), 1)
//     with α the real target (1, or 0.9 with one-sided label smoothing)
//   hinge: L_D = E relu(1 − D(x)) + E relu(1 + D(G(z))),  L_G = −E D(G(z))
//   wasserstein: L_D = E D(G(z)) − E D(x),  L_G = −E D(G(z))
#pragma once
#include <torch/torch.h>

#include "train/train_config.h"

namespace gantry::train {

torch::Tensor d_loss(Loss loss, const torch::Tensor& real, const torch::Tensor& fake, double real_target = 1.0);
torch::Tensor g_loss(Loss loss, const torch::Tensor& fake);

}  // namespace gantry::train

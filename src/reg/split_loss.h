// The split loss of stochastic deconvolution ensembles [seed "Stochastic
// Deconvolutional Neural Network Ensemble…"; docs/TECHNIQUES.md]:
//   F(a, b) = mean_x tanh(((a_x − b_x)/25)⁴)
//   L_split = Σ_i 2 w_i / (|B|(|B|−1)) Σ_{k<j} log F(M_i(k), M_i(j))
// over the sdeconv feature maps M_i (resolutions 4..64, weights w =
// 0.03125, 0.0625, 0.125, 0.25, 0.53125). The stated purpose is to make
// feature maps differ between the images of a batch; minimising L_split as
// printed does the opposite. DECISION: the loss term is −L_split, with ε
// inside the log. The trainer passes the maps of the GLOBAL batch (gathered
// with their gradient path), so pairs span ranks as they do on one rank.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace gantry::reg {

// −L_split for feature maps M_i (each (B, C, H, W)) with weights w_i.
torch::Tensor split_loss(const std::vector<torch::Tensor>& maps, const std::vector<double>& weights, double eps = 1e-8);

// The seed's weights for maps at 4, 8, 16, 32, 64 (the first maps.size() of them).
std::vector<double> split_loss_weights(size_t num_maps);

}  // namespace gantry::reg

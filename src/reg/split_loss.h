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
//
// The pair sum is one autograd node (pair_log_sum) that computes its
// gradient in forward, block by block of rows, while tanh(s⁴) is at hand: it
// keeps one B × D matrix instead of the O(B² · map size) that autograd saves
// for the elementwise ops, computes tanh once, and issues a few ops per block
// instead of ~10 per row (bench/split_loss_bench.cpp). It is differentiable
// once: backward under create_graph throws.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gantry::reg {

struct SplitLossOptions {
  double eps = 1e-8;  // inside the log: log(F + ε); must be > 0
  // Elements of one block of pair differences (rows × B × map size); a block is at least one row.
  // 2^18 floats = 1 MiB per temporary (a block holds two): cache-sized blocks ran ~2× faster than
  // 16 MiB ones at batch 100 (bench/split_loss_bench.cpp --block-elements).
  int64_t block_elements = int64_t{1} << 18;
};

// −L_split for feature maps M_i (each (B, C, H, W) or (B, D)) with weights w_i.
torch::Tensor split_loss(const std::vector<torch::Tensor>& maps, const std::vector<double>& weights,
                         const SplitLossOptions& options = {});

// Σ_{k<j} log(F(m_k, m_j) + ε) for the rows of m (B, D): the pair sum of one map, differentiable in m.
torch::Tensor pair_log_sum(const torch::Tensor& m, const SplitLossOptions& options = {});

// The seed's weights for maps at 4, 8, 16, 32, 64 (the first maps.size() of them).
std::vector<double> split_loss_weights(size_t num_maps);

}  // namespace gantry::reg

// Gradient normalization (GN) [Wu et al. ICCV 2021] and penalty gradient
// normalization (PGN) [seed "Penalty Gradient Normalization…"]
// (docs/TECHNIQUES.md), per sample:
//   GN:  f̂(x) = f(x) / (‖∇_x f(x)‖ + |f(x)|)
//   PGN: f̂(x) = (1 − f(x)) / (‖𝟏 − ∇_x f(x)‖ + |1 − f(x)|)
// ∇ comes from ONE autograd call on Σ_b f(x_b) with create_graph, which equals
// the per-sample gradients only when D couples no samples — so GN/PGN are
// refused with batch norm, minibatch discrimination or global-batch features
// in D (train/ checks the combination before training). The result is
// differentiable to D's parameters and, through x, to G's (double backprop).
#pragma once
#include <torch/torch.h>

#include "common/named_enum.h"

#include <string>

namespace gantry::reg {

enum class GradNorm { kNone, kGN, kPGN };
inline constexpr EnumName<GradNorm> kGradNormNames[] = {
    {GradNorm::kNone, "none"}, {GradNorm::kGN, "gn"}, {GradNorm::kPGN, "pgn"}};
constexpr std::span<const EnumName<GradNorm>> enum_names(GradNorm) { return kGradNormNames; }

// f: D's raw output for x, shape (B) or (B, 1); x must be part of f's graph
// (a leaf with requires_grad, or G's output). Returns f̂ with f's shape.
torch::Tensor normalize_output(GradNorm kind, const torch::Tensor& f, const torch::Tensor& x);

}  // namespace gantry::reg

// Differentiable all_reduce(sum) for global-batch statistics (feature-matching
// means; synchronized BN has its own autograd function, models/sync_batch_norm).
//
// forward: y = Σ_r x_r on every rank. backward: ∂/∂x_r = Σ_s ∂L_s/∂y, an
// all-reduce of the incoming gradients; with per-rank losses averaged by
// GradSync this is the gradient 1 rank computes on the concatenated batch
// (same convention as all_gather_with_grad).
#pragma once
#include <torch/types.h>

#include "dist/communicator.h"

namespace gantry::dist {

torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& input, Communicator& comm);

}  // namespace gantry::dist

// Differentiable all_gather for techniques that need global-batch statistics
// (minibatch discrimination, feature matching, synchronized batch norm).
//
// forward: concatenation along dim 0 of every rank's tensor (rank order).
// backward: the gradient w.r.t. the gathered tensor is summed over ranks and
// each rank keeps the rows of its own input. With per-rank losses averaged by
// GradSync, N ranks then compute exactly the gradient 1 rank computes on the
// concatenated batch.
#pragma once
#include <torch/types.h>

#include "dist/communicator.h"

namespace gantry::dist {

torch::Tensor all_gather_with_grad(const torch::Tensor& input, Communicator& comm);

}  // namespace gantry::dist

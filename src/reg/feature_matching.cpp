#include "reg/feature_matching.h"

#include "dist/all_reduce_autograd.h"

namespace gantry::reg {

namespace {
// Global mean over dim 0 (rows may differ per rank).
torch::Tensor global_mean(const torch::Tensor& f, dist::Communicator* sync) {
  const auto flat = f.reshape({f.size(0), -1});
  if (!sync || sync->size() == 1) return flat.mean(0);
  auto n = torch::full({1}, static_cast<double>(flat.size(0)), torch::kDouble);
  sync->all_reduce(n, dist::ReduceOp::kSum);
  return dist::all_reduce_sum_with_grad(flat.sum(0), *sync) / n.item<double>();
}
}  // namespace

torch::Tensor feature_matching_loss(const torch::Tensor& real, const torch::Tensor& fake,
                                    FeatureMatchingDistance distance, dist::Communicator* sync) {
  const auto diff = global_mean(real.detach(), sync) - global_mean(fake, sync);
  return distance == FeatureMatchingDistance::kSquaredL2 ? diff.square().sum() : diff.abs().mean();
}

}  // namespace gantry::reg

#include "models/sync_batch_norm.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <stdexcept>

namespace gantry::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

std::vector<int64_t> channel_view(const torch::Tensor& x) {
  std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
  view[1] = x.size(1);
  return view;
}

// Statistics dtype: float32 for bf16/fp16 inputs, else the input's.
torch::ScalarType stats_dtype(const torch::Tensor& x) {
  return at::isReducedFloatingType(x.scalar_type()) ? torch::kFloat : x.scalar_type();
}

class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, torch::Tensor running_mean, torch::Tensor running_var,
                               double eps, double momentum, dist::Communicator* comm) {
    const int64_t channels = x.size(1);
    const int64_t local_count = channels == 0 ? 0 : x.numel() / channels;
    const auto dtype = stats_dtype(x);
    const auto xs = x.scalar_type() == dtype ? x : x.to(dtype);
    auto [var, mean] = at::var_mean(xs, reduce_dims(x), /*unbiased=*/false, /*keepdim=*/false);

    // Gather (mean, var, count) of every rank with one all-reduce: own row filled, others zero.
    auto table = at::zeros({comm->size(), 2 * channels + 1}, mean.options());
    auto row = table.select(0, comm->rank());
    row.narrow(0, 0, channels).copy_(mean);
    row.narrow(0, channels, channels).copy_(var);
    row.narrow(0, 2 * channels, 1).fill_(static_cast<double>(local_count));
    comm->all_reduce(table, dist::ReduceOp::kSum);
    const auto means = table.narrow(1, 0, channels), vars = table.narrow(1, channels, channels);
    const auto counts = table.narrow(1, 2 * channels, 1);  // (W, 1)
    const auto total = counts.sum();
    // A rank with fewer than 2 values may still be fine globally; only then read the total (host).
    if (local_count < 2 && total.item<double>() < 2)
      throw std::invalid_argument("batch norm needs more than one value per channel in training");
    const auto global_mean = (means * counts).sum(0) / total;
    const auto deviation = means - global_mean;
    const auto global_var = ((vars + deviation * deviation) * counts).sum(0) / total;
    {
      torch::NoGradGuard ng;
      running_mean.mul_(1 - momentum).add_(global_mean.to(running_mean.scalar_type()), momentum);
      const auto unbiased = global_var * total / (total - 1);
      running_var.mul_(1 - momentum).add_(unbiased.to(running_var.scalar_type()), momentum);
    }
    // y = (x − μ)·rsqrt(σ² + ε)·γ + β in one pass: native batch norm with given statistics.
    auto y = std::get<0>(at::native_batch_norm(x, weight, bias, global_mean, global_var, /*training=*/false,
                                               /*momentum=*/0.0, eps));
    ctx->save_for_backward({x, weight, global_mean, global_var, total});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(comm);
    ctx->saved_data["has_weight"] = weight.defined();
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (torch::GradMode::is_enabled())
      throw std::runtime_error("synchronized batch norm is once-differentiable: no double backward through it");
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& mean = saved[2];
    const auto& var = saved[3];
    const auto& total = saved[4];
    const bool has_weight = ctx->saved_data["has_weight"].toBool();
    const auto weight = has_weight ? saved[1] : at::ones_like(mean);
    const double eps = ctx->saved_data["eps"].toDouble();
    auto* comm = reinterpret_cast<dist::Communicator*>(ctx->saved_data["comm"].toInt());
    const auto& dy = grads[0];
    const int64_t channels = x.size(1);

    // Σ dy·x̂ and Σ dy of this rank in one fused reduction (= its ∂γ and ∂β).
    // train=false: x̂ from the given (global) statistics. The CUDA kernel also
    // requires save_mean/save_invstd (an internal assert, seen on an H200 with
    // LibTorch 2.11), the CPU one ignores them: both get the same global stats.
    const auto invstd = (var + eps).rsqrt();
    auto [unused, grad_weight, grad_bias] = at::native_batch_norm_backward(dy, x, weight, mean, var, mean, invstd,
                                                                           /*train=*/false, eps, {false, true, true});
    auto sums = at::cat({grad_bias.to(mean.scalar_type()), grad_weight.to(mean.scalar_type())});
    comm->all_reduce(sums, dist::ReduceOp::kSum);
    const auto mean_dy = sums.narrow(0, 0, channels) / total;
    const auto mean_dy_xhat = sums.narrow(0, channels, channels) / total;
    // ∂x = a·dy + b·x̂ + c with a = γ·invstd, b = −a·mean(dy·x̂), c = −a·mean(dy):
    // b·x̂ + c by native batch norm with given statistics, then + a·dy in place.
    const auto a = weight * invstd;
    auto grad_x = std::get<0>(at::native_batch_norm(x, -a * mean_dy_xhat, -a * mean_dy, mean, var, /*training=*/false,
                                                    /*momentum=*/0.0, eps));
    grad_x.addcmul_(dy, a.view(channel_view(x)));
    return {grad_x,
            has_weight ? grad_weight : torch::Tensor(),
            has_weight ? grad_bias : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              torch::Tensor& running_mean, torch::Tensor& running_var, const SyncBatchNormArgs& args) {
  if (!args.comm) throw std::invalid_argument("sync_batch_norm: no communicator");
  return SyncBatchNormFunction::apply(x, weight, bias, running_mean, running_var, args.eps, args.momentum, args.comm);
}

}  // namespace gantry::models

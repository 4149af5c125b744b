// Synchronized batch norm over the GLOBAL batch as one autograd function, with
// one collective forward and one backward (the scheme of PyTorch's
// SyncBatchNorm):
//   forward : per-rank (mean, biased var, count) of each channel → one
//             all-reduce that gathers them (each rank fills its own row of a
//             W × (2C+1) table, the rest zeros) → the global mean and variance
//             by the parallel-variance formula (Chan et al. 1979)
//               μ = Σ n_r μ_r / N,  σ² = Σ n_r (σ_r² + (μ_r − μ)²) / N
//             → y = (x − μ)·rsqrt(σ² + ε)·γ + β in one fused pass
//             (ATen's native batch norm in its "given statistics" form).
//   backward: per-rank Σ dy and Σ dy·x̂ (one fused reduction, which are also
//             this rank's ∂γ and ∂β) → one all-reduce of both → the input
//             gradient  γ·invstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N)  in two fused passes.
// ∂γ, ∂β stay per rank: GradSync averages them like every parameter gradient,
// and the sum over ranks is the 1-rank gradient (convention of
// dist/all_reduce_autograd.h).
//
// Why not ATen's batch_norm_stats / batch_norm_elemt / batch_norm_backward_*:
// they exist only for CUDA; the ops used here (var_mean, native_batch_norm
// with given statistics, native_batch_norm_backward) exist on every device, so
// one code path is tested on CPU and runs on CUDA.
//
// Statistics are taken in float32 for reduced-precision inputs (bf16 autocast).
// The function is once-differentiable: a double backward through it is an error
// (GN/PGN/GP/R1 are refused with batch norm in D, see reg/compatibility.h).
#pragma once
#include <torch/types.h>

#include "dist/communicator.h"

namespace gantry::models {

struct SyncBatchNormArgs {
  double eps = 1e-5;
  double momentum = 0.1;
  dist::Communicator* comm = nullptr;
};

// x: (N, C) or (N, C, ...). weight/bias: (C) (may be undefined together).
// running_mean / running_var: updated in place (unbiased variance, momentum).
torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              torch::Tensor& running_mean, torch::Tensor& running_var, const SyncBatchNormArgs& args);

}  // namespace gantry::models

// Adam whose update is ATen's fused multi-tensor kernel (`_fused_adam_`: one
// pass over each parameter for m, v and θ, on CPU and CUDA) instead of
// LibTorch's per-parameter sequence of ~8 element-wise ops.
//
// It IS a torch::optim::Adam (same options, same AdamParamState per
// parameter, same save/load), so checkpoints are interchangeable with those
// written before it existed. The update is Adam with L2 weight decay
// (Kingma & Ba 2015, Alg. 1), identical to LibTorch's up to the rounding of
// the fused expression (~1 ulp of θ).
//
// Step counts live on the parameters' device (one 0-d float per parameter,
// what the fused kernel reads), so a step needs no host value: `step(skip)`
// takes a 0-d device flag, and when it is nonzero the kernel leaves θ, m, v
// and the step count untouched — the non-finite skip decided on the device.
// The host AdamParamState::step is brought up to date in save().
//
// Layouts: grads and state are made to match each parameter's strides
// (channels_last parameters included) before the kernel, which walks raw
// memory and would silently mix elements of differently-strided tensors.
#pragma once
#include <torch/optim/adam.h>

#include <unordered_map>

namespace gantry::train {

class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);

  // One update of every parameter that has a gradient.
  torch::Tensor step(LossClosure closure = nullptr) override;
  // The same, but no parameter changes (and no step is counted) if `skip` (0-d, any device) is nonzero.
  void step_unless(const torch::Tensor& skip);

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  void update(const std::optional<torch::Tensor>& skip);
  torch::Tensor& device_step(const torch::Tensor& param, int64_t host_step);
  void write_back_steps();

  // Parameter (TensorImpl*) → its step count on its device, mirrored into AdamParamState::step by save().
  std::unordered_map<void*, torch::Tensor> steps_;
};

}  // namespace gantry::train

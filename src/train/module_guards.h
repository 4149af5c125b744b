// Scoped module states the trainer and evaluation switch for a while: the
// previous state comes back when the scope ends, on every path out of it
// (an exception in a phase included).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace gantry::train {

// Parameters that take no gradient while alive: D in the G phase, whose
// gradients would be neither used nor reduced.
class FrozenParameters {
 public:
  explicit FrozenParameters(std::vector<torch::Tensor> parameters) : parameters_(std::move(parameters)) {
    for (auto& p : parameters_) p.set_requires_grad(false);
  }
  ~FrozenParameters() {
    for (auto& p : parameters_) p.set_requires_grad(true);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<torch::Tensor> parameters_;
};

// A module in eval mode (batch norm from running statistics) while alive.
class EvalMode {
 public:
  explicit EvalMode(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) { module.eval(); }
  ~EvalMode() { module_.train(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace gantry::train

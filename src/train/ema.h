// Exponential moving average of G [TECHNIQUES.md]: θ_ema ← β θ_ema + (1−β) θ,
// β = 0.9999, a plain copy before `start_step`; floating buffers (BN running
// statistics) are averaged the same way, integer buffers copied. Replicated
// state: G is identical on every rank, so is its EMA. Sample and evaluate with
// the EMA copy in eval mode.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace gantry::train {

class Ema {
 public:
  // `shadow` is a separate instance of G's architecture (same parameter and buffer names).
  Ema(std::shared_ptr<torch::nn::Module> model, std::shared_ptr<torch::nn::Module> shadow, double beta = 0.9999,
      int64_t start_step = 0);
  void update(int64_t step);  // after G's optimizer step `step`
  torch::nn::Module& shadow() { return *shadow_; }

 private:
  std::shared_ptr<torch::nn::Module> model_, shadow_;
  // Pairs resolved once by name: floating tensors (parameters and buffers), averaged as one
  // multi-tensor operation; other buffers (integer counters) copied.
  std::vector<torch::Tensor> float_src_, float_dst_, other_src_, other_dst_;
  double beta_;
  int64_t start_;
};

}  // namespace gantry::train

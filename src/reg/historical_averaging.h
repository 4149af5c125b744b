// Historical averaging [Salimans et al. 2016 §3.3; docs/TECHNIQUES.md]:
//   θ̄_t = θ̄_{t−1} + (θ_t − θ̄_{t−1}) / t,   term λ_HA Σ ‖θ − θ̄_t‖² (θ̄ detached).
// Call update() once per update of the player (θ_t = current parameters),
// then penalty() in that update's loss. θ̄ and t are replicated state: the
// parameters are identical on every rank, so are the averages; they belong in
// checkpoints (state()).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace gantry::reg {

class HistoricalAverage {
 public:
  HistoricalAverage(std::vector<torch::Tensor> parameters, double lambda = 1e-3);
  void update();
  torch::Tensor penalty() const;
  int64_t count() const { return t_; }
  // Averages then a 0-dim int64 count: for checkpoints and consistency checks.
  std::vector<torch::Tensor> state() const;
  void load_state(const std::vector<torch::Tensor>& state);

 private:
  std::vector<torch::Tensor> params_, averages_;
  double lambda_;
  int64_t t_ = 0;
};

}  // namespace gantry::reg

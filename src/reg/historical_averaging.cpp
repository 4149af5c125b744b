#include "reg/historical_averaging.h"

#include <stdexcept>

namespace gantry::reg {

HistoricalAverage::HistoricalAverage(std::vector<torch::Tensor> parameters, double lambda)
    : params_(std::move(parameters)), lambda_(lambda) {
  if (lambda < 0) throw std::invalid_argument("historical averaging: lambda must be non-negative");
  for (const auto& p : params_) averages_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous).detach());
}

void HistoricalAverage::update() {
  torch::NoGradGuard ng;
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) averages_[i].add_((params_[i] - averages_[i]) / static_cast<double>(t_));
}

torch::Tensor HistoricalAverage::penalty() const {
  if (t_ == 0) throw std::logic_error("historical averaging: penalty() before the first update()");
  torch::Tensor sum;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto term = (params_[i] - averages_[i]).square().sum();
    sum = sum.defined() ? sum + term : term;
  }
  return lambda_ * sum;
}

std::vector<torch::Tensor> HistoricalAverage::state() const {
  auto s = averages_;
  s.push_back(torch::tensor(t_, torch::kLong));
  return s;
}

void HistoricalAverage::load_state(const std::vector<torch::Tensor>& s) {
  if (s.size() != averages_.size() + 1) throw std::invalid_argument("historical averaging: state has the wrong size");
  torch::NoGradGuard ng;
  for (size_t i = 0; i < averages_.size(); ++i) averages_[i].copy_(s[i]);
  t_ = s.back().item<int64_t>();
}

}  // namespace gantry::reg

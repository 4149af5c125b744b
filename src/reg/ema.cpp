#include "reg/ema.h"

#include <stdexcept>

namespace gantry::reg {

Ema::Ema(std::shared_ptr<torch::nn::Module> model, std::shared_ptr<torch::nn::Module> shadow, double beta,
         int64_t start_step)
    : model_(std::move(model)), shadow_(std::move(shadow)), beta_(beta), start_(start_step) {
  if (beta < 0 || beta >= 1) throw std::invalid_argument("EMA: beta must be in [0, 1)");
  const auto a = model_->named_parameters(), b = shadow_->named_parameters();
  if (a.size() != b.size()) throw std::invalid_argument("EMA: the shadow model has different parameters");
  torch::NoGradGuard ng;
  for (const auto& p : a) {
    const auto* q = b.find(p.key());
    if (!q || q->sizes() != p.value().sizes()) throw std::invalid_argument("EMA: parameter " + p.key() + " differs");
    q->copy_(p.value());
    q->set_requires_grad(false);
  }
  const auto ba = model_->named_buffers(), bb = shadow_->named_buffers();
  for (const auto& p : ba) {
    const auto* q = bb.find(p.key());
    if (!q) throw std::invalid_argument("EMA: buffer " + p.key() + " missing in the shadow model");
    q->copy_(p.value());
  }
}

void Ema::update(int64_t step) {
  torch::NoGradGuard ng;
  const double keep = step < start_ ? 0.0 : beta_;
  auto average = [&](const torch::OrderedDict<std::string, torch::Tensor>& src,
                     torch::OrderedDict<std::string, torch::Tensor> dst) {
    for (const auto& p : src) {
      auto& q = dst[p.key()];
      if (q.is_floating_point()) q.mul_(keep).add_(p.value(), 1 - keep);
      else q.copy_(p.value());
    }
  };
  average(model_->named_parameters(), shadow_->named_parameters());
  average(model_->named_buffers(), shadow_->named_buffers());
}

}  // namespace gantry::reg

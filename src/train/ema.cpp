#include "train/ema.h"

#include <stdexcept>

namespace gantry::train {

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
  auto pair_up = [&](const torch::OrderedDict<std::string, torch::Tensor>& src,
                     const torch::OrderedDict<std::string, torch::Tensor>& dst) {
    for (const auto& p : src) {
      const bool floating = p.value().is_floating_point();
      (floating ? float_src_ : other_src_).push_back(p.value());
      (floating ? float_dst_ : other_dst_).push_back(dst[p.key()]);
    }
  };
  pair_up(a, b);
  pair_up(ba, bb);
}

void Ema::update(int64_t step) {
  torch::NoGradGuard ng;
  const double keep = step < start_ ? 0.0 : beta_;
  // θ_ema ← keep·θ_ema + (1 − keep)·θ over all floating tensors at once (same two
  // rounding steps per element as one tensor at a time).
  if (!float_dst_.empty()) {
    at::_foreach_mul_(float_dst_, keep);
    at::_foreach_add_(float_dst_, float_src_, 1 - keep);
  }
  for (size_t i = 0; i < other_dst_.size(); ++i) other_dst_[i].copy_(other_src_[i]);
}

}  // namespace gantry::train

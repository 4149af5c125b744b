#include "train/fused_adam.h"

#include <ATen/ATen.h>

namespace gantry::train {

namespace {

// `t` on `like`'s device with exactly its sizes and strides (a copy only when they differ).
torch::Tensor strided_like(const torch::Tensor& t, const torch::Tensor& like) {
  if (t.strides() == like.strides() && t.sizes() == like.sizes() && t.device() == like.device()) return t;
  auto out = at::empty_like(like, at::MemoryFormat::Preserve);
  out.copy_(t);
  return out;
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), std::move(options)) {}

torch::Tensor& FusedAdam::device_step(const torch::Tensor& param, int64_t host_step) {
  auto it = steps_.find(param.unsafeGetTensorImpl());
  if (it == steps_.end() || it->second.device() != param.device()) {
    auto t = torch::full({}, static_cast<double>(host_step), param.options().dtype(torch::kFloat));
    it = steps_.insert_or_assign(param.unsafeGetTensorImpl(), t).first;
  }
  return it->second;
}

void FusedAdam::update(const std::optional<torch::Tensor>& skip) {
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    if (o.amsgrad()) throw std::invalid_argument("FusedAdam: amsgrad is not supported");
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;  // as LibTorch's Adam: no gradient, no update, no step
      auto& slot = state()[p.unsafeGetTensorImpl()];
      if (!slot) {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*slot);
      // State loaded from a checkpoint of another layout (or device) follows the parameter.
      s.exp_avg(strided_like(s.exp_avg(), p));
      s.exp_avg_sq(strided_like(s.exp_avg_sq(), p));
      params.push_back(p);
      grads.push_back(strided_like(p.grad(), p));
      exp_avgs.push_back(s.exp_avg());
      exp_avg_sqs.push_back(s.exp_avg_sq());
      steps.push_back(device_step(p, s.step()));
    }
    if (params.empty()) continue;
    // Count the step first (the kernel reads t for the bias corrections); a skipped step adds 0.
    if (skip)
      at::_foreach_add_(steps, 1 - skip->to(steps.front().device(), torch::kFloat));
    else
      at::_foreach_add_(steps, 1);
    const auto [beta1, beta2] = o.betas();
    at::_fused_adam_(
        params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, o.lr(), beta1, beta2, o.weight_decay(),
        o.eps(), /*amsgrad=*/false, /*maximize=*/false, /*grad_scale=*/std::nullopt,
        skip ? std::optional<torch::Tensor>(skip->to(params.front().device(), torch::kFloat)) : std::nullopt);
  }
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  update(std::nullopt);
  return loss;
}

void FusedAdam::step_unless(const torch::Tensor& skip) { update(skip); }

void FusedAdam::write_back_steps() {
  for (auto& group : param_groups())
    for (auto& p : group.params()) {
      auto st = state().find(p.unsafeGetTensorImpl());
      auto dv = steps_.find(p.unsafeGetTensorImpl());
      if (st == state().end() || dv == steps_.end()) continue;
      static_cast<torch::optim::AdamParamState&>(*st->second).step(static_cast<int64_t>(dv->second.item<float>()));
    }
}

void FusedAdam::save(torch::serialize::OutputArchive& archive) const {
  // The device counters are the truth during training; the archive holds LibTorch's host counts.
  const_cast<FusedAdam*>(this)->write_back_steps();
  torch::optim::Adam::save(archive);
}

void FusedAdam::load(torch::serialize::InputArchive& archive) {
  torch::optim::Adam::load(archive);
  steps_.clear();  // rebuilt from the loaded host counts at the next step
}

}  // namespace gantry::train

// One-sided label smoothing [Salimans et al. 2016 §3.4]: D's BCE targets are
// α (default 0.9) for real and 0 for fake — never smoothed on the fake side,
// which would reward D for keeping fakes near the data.
#pragma once
#include <torch/torch.h>

namespace gantry::reg {

// BCE-with-logits D loss, mean over the local batch: real target alpha, fake target 0.
inline torch::Tensor bce_d_loss_smoothed(const torch::Tensor& real_logits, const torch::Tensor& fake_logits,
                                         double alpha = 0.9) {
  namespace F = torch::nn::functional;
  const auto r = real_logits.reshape({-1}), f = fake_logits.reshape({-1});
  return F::binary_cross_entropy_with_logits(r, torch::full_like(r, alpha)) +
         F::binary_cross_entropy_with_logits(f, torch::zeros_like(f));
}

}  // namespace gantry::reg

#include "train/losses.h"

namespace gantry::train {

namespace F = torch::nn::functional;

torch::Tensor d_loss(Loss loss, const torch::Tensor& real, const torch::Tensor& fake, double real_target) {
  switch (loss) {
    case Loss::kBce: {
      // One-sided label smoothing [Salimans et al. 2016 §3.4]: the real target is α (< 1 when on),
      // the fake one stays 0 (smoothing it would reward D for keeping fakes near the data).
      const auto r = real.reshape({-1}), f = fake.reshape({-1});
      return F::binary_cross_entropy_with_logits(r, torch::full_like(r, real_target)) +
             F::binary_cross_entropy_with_logits(f, torch::zeros_like(f));
    }
    case Loss::kHinge:
      return torch::relu(1 - real).mean() + torch::relu(1 + fake).mean();
    case Loss::kWasserstein:
      return fake.mean() - real.mean();
  }
  return {};
}

torch::Tensor g_loss(Loss loss, const torch::Tensor& fake) {
  if (loss == Loss::kBce) return F::binary_cross_entropy_with_logits(fake, torch::ones_like(fake));
  return -fake.mean();
}

}  // namespace gantry::train

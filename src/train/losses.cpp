#include "train/losses.h"

#include "reg/label_smoothing.h"

namespace gantry::train {

namespace F = torch::nn::functional;

torch::Tensor d_loss(Loss loss, const torch::Tensor& real, const torch::Tensor& fake, double real_target) {
  switch (loss) {
    case Loss::kBce: return reg::bce_d_loss_smoothed(real, fake, real_target);
    case Loss::kHinge: return torch::relu(1 - real).mean() + torch::relu(1 + fake).mean();
    case Loss::kWasserstein: return fake.mean() - real.mean();
  }
  return {};
}

torch::Tensor g_loss(Loss loss, const torch::Tensor& fake) {
  if (loss == Loss::kBce) return F::binary_cross_entropy_with_logits(fake, torch::ones_like(fake));
  return -fake.mean();
}

}  // namespace gantry::train

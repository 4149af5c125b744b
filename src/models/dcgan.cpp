// DCGAN [Radford et al. 2016] for 28², 32², 64², and SGAN: the same generator
// with its deep upsampling layers replaced by stochastic deconvolution banks
// [seed "Stochastic Deconvolutional Neural Network Ensemble…"].
//
// G (models/deconv_stack_generator.h): z → linear → (c0, s0, s0) → norm, ReLU
//    → n_up × [deconv 4×4 s2 → norm, ReLU] where s0 = 7 (28²) or 4, c halves
//    per layer from c0 = w·2^(n_up−1);
//    DCGAN: the last deconv writes the image (tanh);
//    SGAN: the first `sdeconv_layers` upsamplings are banks (WN + PReLU), the
//    rest plain; a shared 3×3 conv writes the image (tanh). Split-loss maps:
//    the s0 projection and every bank's output.
// D: conv 4×4 s2 (image → w, no norm), then n_up−1 × [conv 4×4 s2, norm,
//    LeakyReLU 0.2] doubling widths down to s0; features = flatten; head.
// Init N(0, 0.02²) (TECHNIQUES.md).
#include <cmath>

#include "models/architectures.h"
#include "models/conv_stack_discriminator.h"
#include "models/deconv_stack_generator.h"

namespace gantry::models {

namespace {

int64_t start_size(int64_t res) { return res == 28 ? 7 : 4; }
int64_t upsamplings(int64_t res) { return static_cast<int64_t>(std::lround(std::log2(double(res) / start_size(res)))); }

}  // namespace

std::shared_ptr<Generator> make_dcgan_generator(const ModelConfig& c, dist::Communicator* bn_sync) {
  const int64_t w = c.g_width > 0 ? c.g_width : 64, n_up = upsamplings(c.resolution);
  const bool sgan = c.arch == Arch::kSgan;
  DeconvStackSpec spec{start_size(c.resolution), w << (n_up - 1), n_up, w, /*last_deconv_writes_image=*/!sgan};
  if (sgan) {
    spec.banks = c.sdeconv_layers;
    spec.bank_sets = c.sdeconv_sets;
  }
  return make_deconv_stack_generator(c, spec, bn_sync);
}
std::shared_ptr<Discriminator> make_dcgan_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                        dist::Communicator* mbd_sync) {
  // 4×4 stride-2 convs doubling the width down to the start size, LeakyReLU 0.2 (Radford et al.).
  const int64_t w = c.d_width > 0 ? c.d_width : 64;
  std::vector<ConvSpec> specs;
  for (int64_t i = 0; i < upsamplings(c.resolution); ++i) specs.push_back({w << i, 4, 2, 1});
  return make_conv_stack_discriminator(c, specs, start_size(c.resolution), 0.2, bn_sync, mbd_sync);
}

}  // namespace gantry::models

// The generator DCGAN, SGAN and SNGAN's "standard CNN" share: z → linear →
// (c0, s0, s0) → norm, ReLU → n_up × [deconv 4×4 stride 2 → norm, ReLU],
// channels halving (not below width/2), → image with tanh. The architectures
// differ only in the numbers of `DeconvStackSpec`, in whether the last deconv
// writes the image (DCGAN) or a 3×3 conv does (SNGAN, SGAN), and in SGAN's
// stochastic deconvolution banks. Module names: project, norm0, up{i} or
// bank{i}, norm{i+1}, to_image (checkpoints rely on them).
#pragma once
#include <memory>

#include "models/networks.h"

namespace gantry::models {

struct DeconvStackSpec {
  int64_t start_size;             // s0
  int64_t start_channels;         // c0
  int64_t upsamplings;            // n_up
  int64_t width;                  // the base width w: no layer narrower than w / 2
  bool last_deconv_writes_image;  // DCGAN: the last deconv outputs the image; else a 3×3 conv does
  // SGAN: the first `banks` upsamplings are stochastic deconvolution banks of
  // `bank_sets` filter sets each (WN + PReLU), with split-loss maps (the
  // projection and every bank's output).
  int64_t banks = 0;
  int64_t bank_sets = 0;
};

std::shared_ptr<Generator> make_deconv_stack_generator(const ModelConfig& c, const DeconvStackSpec& spec,
                                                       dist::Communicator* bn_sync);

}  // namespace gantry::models

// The plain convolutional D shared by DCGAN and SNGAN's "standard CNN": a
// stack of convs (module names conv{i}, norm{i}; no norm after the first, which
// reads the image), LeakyReLU after each, flattened features, DHead (MBD +
// linear). The architectures differ only in their conv specs and slope.
#pragma once
#include <memory>
#include <vector>

#include "models/networks.h"

namespace gantry::models {

struct ConvSpec {
  int64_t out, kernel, stride, padding;
};

// `final_size`: the spatial size after the stack (features = last out · final_size²).
std::shared_ptr<Discriminator> make_conv_stack_discriminator(const ModelConfig& c, const std::vector<ConvSpec>& specs,
                                                             int64_t final_size, double slope,
                                                             dist::Communicator* bn_sync, dist::Communicator* mbd_sync);

}  // namespace gantry::models

// Constructors of the concrete architectures (one file each), used by
// networks.cpp's builders. Each takes a validated config.
#pragma once
#include <memory>

#include "models/networks.h"

namespace gantry::models {

std::shared_ptr<Generator> make_dcgan_generator(const ModelConfig& c, dist::Communicator* bn_sync);  // also sgan
std::shared_ptr<Discriminator> make_dcgan_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                        dist::Communicator* mbd_sync);
std::shared_ptr<Generator> make_sngan_cnn_generator(const ModelConfig& c, dist::Communicator* bn_sync);
std::shared_ptr<Discriminator> make_sngan_cnn_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                            dist::Communicator* mbd_sync);
std::shared_ptr<Generator> make_resnet_generator(const ModelConfig& c, dist::Communicator* bn_sync);
std::shared_ptr<Discriminator> make_resnet_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                         dist::Communicator* mbd_sync);
std::shared_ptr<Generator> make_mlp_generator(const ModelConfig& c, dist::Communicator* bn_sync);
std::shared_ptr<Discriminator> make_mlp_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                      dist::Communicator* mbd_sync);

}  // namespace gantry::models

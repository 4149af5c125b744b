#include "models/networks.h"

#include <stdexcept>

#include "dist/communicator.h"
#include "models/architectures.h"

namespace gantry::models {

namespace {
// Synchronized BN only when asked for and there is more than one rank.
dist::Communicator* bn_sync(const ModelConfig& c, dist::Communicator* sync) {
  return c.sync_batch_norm && sync && sync->size() > 1 ? sync : nullptr;
}
dist::Communicator* mbd_sync(dist::Communicator* sync) { return sync && sync->size() > 1 ? sync : nullptr; }
}  // namespace

torch::Tensor pack_samples(const torch::Tensor& x, int64_t m) {
  if (m == 1) return x;
  if (m < 1 || x.dim() < 2 || x.size(0) % m != 0)
    throw std::invalid_argument("pack: " + std::to_string(x.size(0)) + " samples do not form packs of " +
                                std::to_string(m));
  // Row-major (N, F, ...) viewed as (N/m, m, F, ...) then merged: pack j holds samples j·m .. j·m+m−1.
  auto shape = x.sizes().vec();
  shape[0] /= m;
  shape[1] *= m;
  return x.contiguous().view(shape);
}

std::shared_ptr<Generator> build_generator(const ModelConfig& c, dist::Communicator* sync) {
  validate(c);
  switch (c.arch) {
    case Arch::kDcgan:
    case Arch::kSgan:
      return make_dcgan_generator(c, bn_sync(c, sync));
    case Arch::kSnganCnn:
      return make_sngan_cnn_generator(c, bn_sync(c, sync));
    case Arch::kResnet:
      return make_resnet_generator(c, bn_sync(c, sync));
    case Arch::kMlp:
      return make_mlp_generator(c, bn_sync(c, sync));
  }
  throw std::logic_error("build_generator: unhandled architecture");
}

std::shared_ptr<Discriminator> build_discriminator(const ModelConfig& c, dist::Communicator* sync) {
  validate(c);
  switch (c.arch) {
    case Arch::kDcgan:
    case Arch::kSgan:
      return make_dcgan_discriminator(c, bn_sync(c, sync), mbd_sync(sync));
    case Arch::kSnganCnn:
      return make_sngan_cnn_discriminator(c, bn_sync(c, sync), mbd_sync(sync));
    case Arch::kResnet:
      return make_resnet_discriminator(c, bn_sync(c, sync), mbd_sync(sync));
    case Arch::kMlp:
      return make_mlp_discriminator(c, bn_sync(c, sync), mbd_sync(sync));
  }
  throw std::logic_error("build_discriminator: unhandled architecture");
}

}  // namespace gantry::models

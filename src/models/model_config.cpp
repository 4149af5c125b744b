#include "models/model_config.h"

#include <map>
#include <set>
#include <stdexcept>

namespace gantry::models {

void validate(const ModelConfig& c) {
  static const std::map<Arch, std::set<int64_t>> kResolutions = {{Arch::kDcgan, {28, 32, 64}},
                                                                 {Arch::kSgan, {28, 32, 64}},
                                                                 {Arch::kSnganCnn, {32, 48}},
                                                                 {Arch::kResnet, {32, 48, 128, 256}},
                                                                 {Arch::kMlp, {}}};
  const auto& resolutions = kResolutions.at(c.arch);
  if (c.arch != Arch::kMlp && !resolutions.count(c.resolution)) {
    std::string list;
    for (auto r : resolutions) list += (list.empty() ? "" : ", ") + std::to_string(r);
    throw std::invalid_argument("model: " + std::string(enum_name(c.arch)) + " supports resolutions " + list +
                                ", not " + std::to_string(c.resolution));
  }
  if (c.arch != Arch::kMlp && c.channels != 1 && c.channels != 3)
    throw std::invalid_argument("model: image channels must be 1 or 3, not " + std::to_string(c.channels));
  if (c.z_dim <= 0) throw std::invalid_argument("model: z_dim must be positive");
  if (c.g_width < 0 || c.d_width < 0) throw std::invalid_argument("model: widths must be positive (0 = default)");
  if (c.d_norm == NormKind::kVirtualBatch)
    throw std::invalid_argument("model: virtual batch norm is for G only (d_norm = vbn is not allowed)");
  if (c.g_norm == NormKind::kVirtualBatch && c.vbn_reference < 2)
    throw std::invalid_argument("model: the VBN reference batch needs at least 2 samples");
  if (c.mbd_kernels < 0 || (c.mbd_kernels > 0 && c.mbd_kernel_dim <= 0))
    throw std::invalid_argument("model: minibatch discrimination kernels and dims must be positive");
  if (c.arch == Arch::kSgan && (c.sdeconv_sets < 1 || c.sdeconv_layers < 1))
    throw std::invalid_argument("model: sgan needs at least one stochastic deconv layer with at least one filter set");
  if (c.arch == Arch::kMlp && (c.mlp_hidden <= 0 || c.mlp_depth < 2 || c.data_dim <= 0 || c.mlp_d_depth == 1))
    throw std::invalid_argument("model: mlp needs hidden > 0, depth >= 2 (mlp_d_depth 0 or >= 2), data_dim > 0");
  if (c.mlp_banks < 0 ||
      (c.mlp_banks > 0 && (c.arch != Arch::kMlp || c.mlp_banks > c.mlp_depth - 1 || c.sdeconv_sets < 1)))
    throw std::invalid_argument(
        "model: mlp_banks is for mlp, at most mlp_depth - 1 hidden layers, with sdeconv_sets >= 1");
  if (c.d_activation == DActivation::kMaxout && c.arch != Arch::kMlp)
    throw std::invalid_argument("model: d_activation = \"maxout\" is for model.arch = \"mlp\"");
  if (c.d_activation == DActivation::kMaxout && c.maxout_pieces < 2)
    throw std::invalid_argument("model: maxout needs maxout_pieces >= 2");
  if (c.pack < 1) throw std::invalid_argument("model: pack must be at least 1");
  if (!(c.bn_momentum > 0 && c.bn_momentum <= 1) || !(c.bn_eps > 0 && c.bn_eps < 1))
    throw std::invalid_argument("model: bn_momentum must be in (0, 1] and bn_eps in (0, 1)");
  if (c.mlp_init != Init::kKaimingNormal && c.arch != Arch::kMlp)
    throw std::invalid_argument("model: mlp_init is for model.arch = \"mlp\"");
}

}  // namespace gantry::models

#include "models/model_config.h"

#include <map>
#include <set>
#include <stdexcept>

namespace gantry::models {

NormKind parse_norm(const std::string& name) {
  if (name == "none") return NormKind::kNone;
  if (name == "bn" || name == "batch") return NormKind::kBatch;
  if (name == "ln" || name == "layer") return NormKind::kLayer;
  if (name == "vbn" || name == "virtual_batch") return NormKind::kVirtualBatch;
  throw std::invalid_argument("normalisation must be none, bn, ln or vbn, not '" + name + "'");
}

const char* to_string(NormKind kind) {
  switch (kind) {
    case NormKind::kNone: return "none";
    case NormKind::kBatch: return "bn";
    case NormKind::kLayer: return "ln";
    case NormKind::kVirtualBatch: return "vbn";
  }
  return "?";
}

void validate(const ModelConfig& c) {
  static const std::map<std::string, std::set<int64_t>> kResolutions = {
      {"dcgan", {28, 32, 64}}, {"sgan", {28, 32, 64}}, {"sngan_cnn", {32, 48}}, {"resnet", {32, 48, 128, 256}}, {"mlp", {}}};
  const auto it = kResolutions.find(c.arch);
  if (it == kResolutions.end())
    throw std::invalid_argument("model: unknown architecture '" + c.arch + "' (dcgan, sgan, sngan_cnn, resnet, mlp)");
  if (c.arch != "mlp" && !it->second.count(c.resolution)) {
    std::string list;
    for (auto r : it->second) list += (list.empty() ? "" : ", ") + std::to_string(r);
    throw std::invalid_argument("model: " + c.arch + " supports resolutions " + list + ", not " +
                                std::to_string(c.resolution));
  }
  if (c.arch != "mlp" && c.channels != 1 && c.channels != 3)
    throw std::invalid_argument("model: image channels must be 1 or 3, not " + std::to_string(c.channels));
  if (c.z_dim <= 0) throw std::invalid_argument("model: z_dim must be positive");
  if (c.g_width < 0 || c.d_width < 0) throw std::invalid_argument("model: widths must be positive (0 = default)");
  if (c.d_norm == NormKind::kVirtualBatch)
    throw std::invalid_argument("model: virtual batch norm is for G only (d_norm = vbn is not allowed)");
  if (c.g_norm == NormKind::kVirtualBatch && c.vbn_reference < 2)
    throw std::invalid_argument("model: the VBN reference batch needs at least 2 samples");
  if (c.mbd_kernels < 0 || (c.mbd_kernels > 0 && c.mbd_kernel_dim <= 0))
    throw std::invalid_argument("model: minibatch discrimination kernels and dims must be positive");
  if (c.arch == "sgan" && (c.sdeconv_sets < 1 || c.sdeconv_layers < 1))
    throw std::invalid_argument("model: sgan needs at least one stochastic deconv layer with at least one filter set");
  if (c.arch == "mlp" && (c.mlp_hidden <= 0 || c.mlp_depth < 2 || c.data_dim <= 0))
    throw std::invalid_argument("model: mlp needs hidden > 0, depth >= 2, data_dim > 0");
  if (c.mlp_banks < 0 || (c.mlp_banks > 0 && (c.arch != "mlp" || c.mlp_banks > c.mlp_depth - 1 || c.sdeconv_sets < 1)))
    throw std::invalid_argument("model: mlp_banks is for mlp, at most mlp_depth - 1 hidden layers, with sdeconv_sets >= 1");
}

}  // namespace gantry::models

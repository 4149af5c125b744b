// One layer type for every weighted layer of gantry's networks: conv,
// transposed conv ("deconv") and linear, each with an optional weight
// reparametrisation — spectral norm [Miyato et al. 2018] or weight norm
// [Salimans & Kingma 2016]. Owning the weight ourselves (instead of wrapping
// torch::nn::Conv2d) keeps the raw filters visible to DiReAL and the SN
// vectors visible to the replica broadcast.
//
// Filters: the rows of the layer's kernel matrix, one per OUTPUT unit:
//   conv   weight (out, in, k, k)  → out rows of in·k·k
//   deconv weight (in, out, k, k)  → out rows of in·k·k   (dim 1, TECHNIQUES.md)
//   linear weight (out, in)        → out rows of in
// Spectral norm: buffers u (rows) and v (row length); in training mode one
// power iteration per forward under no_grad (v = n(Wᵀu), u = n(Wv)), then
// σ = uᵀ W v with the gradient through W only; W/σ is used. In eval mode the
// stored u, v are used as they are (torch.nn.utils.spectral_norm semantics).
// Weight norm: w_i = g_i · v_i / ‖v_i‖ per output filter.
#pragma once
#include <torch/torch.h>

#include "common/named_enum.h"

#include <string>

namespace gantry::models {

enum class LayerKind { kConv, kDeconv, kLinear };
enum class WeightNorm { kNone, kSpectral, kWeight };
inline constexpr EnumName<WeightNorm> kWeightNormNames[] = {{WeightNorm::kNone, "none"},
                                                            {WeightNorm::kSpectral, "sn"},
                                                            {WeightNorm::kWeight, "wn"},
                                                            {WeightNorm::kSpectral, "spectral"},
                                                            {WeightNorm::kWeight, "weight"}};
constexpr std::span<const EnumName<WeightNorm>> enum_names(WeightNorm) { return kWeightNormNames; }

enum class Init { kNormal002, kKaimingNormal, kXavierUniform };

// What a weight layer is, named at the call site as LibTorch's options are:
//   WeightLayer(WeightLayerOptions::deconv(ch, out, 4).stride(2).padding(1).norm(WeightNorm::kSpectral).bias(false))
struct WeightLayerOptions {
  WeightLayerOptions(LayerKind kind, int64_t in, int64_t out, int64_t kernel = 1)
      : kind_(kind), in_(in), out_(out), kernel_(kernel) {}
  static WeightLayerOptions conv(int64_t in, int64_t out, int64_t kernel) {
    return {LayerKind::kConv, in, out, kernel};
  }
  static WeightLayerOptions deconv(int64_t in, int64_t out, int64_t kernel) {
    return {LayerKind::kDeconv, in, out, kernel};
  }
  static WeightLayerOptions linear(int64_t in, int64_t out) { return {LayerKind::kLinear, in, out, 1}; }

  TORCH_ARG(LayerKind, kind);
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, kernel);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(WeightNorm, norm) = WeightNorm::kNone;
  TORCH_ARG(Init, init) = Init::kNormal002;
  TORCH_ARG(double, sn_eps) = 1e-12;
};

class WeightLayerImpl : public torch::nn::Module {
 public:
  explicit WeightLayerImpl(const WeightLayerOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  // The weight the layer applies (after SN / WN), with its autograd graph.
  // In training mode under SN this advances the power iteration (as forward does).
  torch::Tensor effective_weight();
  // The raw parameter whose filters DiReAL compares (v under WN).
  const torch::Tensor& raw_weight() const { return weight_; }
  // Raw filters as a (out, fan_in) matrix view, per the table above.
  torch::Tensor filter_matrix() const;
  // Raw weights grouped by INPUT unit, (in, out·k·k): what each input channel
  // feeds (DiReAL on a layer with a single output filter).
  torch::Tensor input_filter_matrix() const;
  const WeightLayerOptions& options() const { return opt_; }
  // σ of the last SN forward (for logging); undefined without SN.
  torch::Tensor last_sigma() const { return sigma_; }

 private:
  torch::Tensor matrix_of(const torch::Tensor& w) const;
  WeightLayerOptions opt_;
  torch::Tensor weight_, bias_, gain_, u_, v_, sigma_;
};
TORCH_MODULE(WeightLayer);

}  // namespace gantry::models

// What the model builders need to know: architecture, resolution, widths and
// the normalisation of each network. Every field has the default of
// docs/TECHNIQUES.md; train/ fills it from the experiment config.
#pragma once
#include <cstdint>
#include <string>

#include "common/named_enum.h"
#include "models/weight_layer.h"

namespace gantry::dist {
class Communicator;
}

namespace gantry::models {

// Activation normalisation. kVirtualBatch is G only.
enum class NormKind { kNone, kBatch, kLayer, kVirtualBatch };
inline constexpr EnumName<NormKind> kNormNames[] = {{NormKind::kNone, "none"},
                                                    {NormKind::kBatch, "bn"},
                                                    {NormKind::kLayer, "ln"},
                                                    {NormKind::kVirtualBatch, "vbn"},
                                                    {NormKind::kBatch, "batch"},
                                                    {NormKind::kLayer, "layer"},
                                                    {NormKind::kVirtualBatch, "virtual_batch"}};
constexpr std::span<const EnumName<NormKind>> enum_names(NormKind) { return kNormNames; }

// The model families (models/networks.h builds each); sgan is DCGAN with
// stochastic deconvolution banks in G, mlp the 2-D mixture networks.
enum class Arch { kDcgan, kSnganCnn, kResnet, kSgan, kMlp };
inline constexpr EnumName<Arch> kArchNames[] = {{Arch::kDcgan, "dcgan"},
                                                {Arch::kSnganCnn, "sngan_cnn"},
                                                {Arch::kResnet, "resnet"},
                                                {Arch::kSgan, "sgan"},
                                                {Arch::kMlp, "mlp"}};
constexpr std::span<const EnumName<Arch>> enum_names(Arch) { return kArchNames; }

// The nonlinearity of the MLP discriminator's hidden layers: LeakyReLU 0.2, or
// maxout [Goodfellow et al. 2013] over `maxout_pieces` linear pieces per unit
// (PacGAN's 2-D discriminator).
enum class DActivation { kLeakyRelu, kMaxout };
inline constexpr EnumName<DActivation> kDActivationNames[] = {{DActivation::kLeakyRelu, "leaky_relu"},
                                                              {DActivation::kMaxout, "maxout"}};
constexpr std::span<const EnumName<DActivation>> enum_names(DActivation) { return kDActivationNames; }

inline constexpr EnumName<Init> kInitNames[] = {{Init::kKaimingNormal, "kaiming_normal"},
                                                {Init::kNormal002, "normal_0.02"},
                                                {Init::kXavierUniform, "xavier_uniform"}};
constexpr std::span<const EnumName<Init>> enum_names(Init) { return kInitNames; }

struct ModelConfig {
  Arch arch = Arch::kDcgan;
  int64_t resolution = 32;  // image side (dcgan 28/32/64, sngan_cnn 32/48, resnet 32/48/128/256, sgan 28/32/64)
  int64_t channels = 3;     // image channels
  int64_t z_dim = 128;
  int64_t g_width = 0;  // 0: the architecture's default base width
  int64_t d_width = 0;
  NormKind g_norm = NormKind::kBatch;
  NormKind d_norm = NormKind::kNone;
  WeightNorm g_weight_norm = WeightNorm::kNone;
  WeightNorm d_weight_norm = WeightNorm::kSpectral;
  bool sync_batch_norm = true;  // global-batch BN statistics when more than one rank
  // Batch norm's population statistics: running = (1 − momentum)·running + momentum·batch
  // (PyTorch's convention); eps is added to the variance. PacGAN's 2-D code: 0.05 and 1e-4.
  double bn_momentum = 0.1;
  double bn_eps = 1e-5;
  int64_t vbn_reference = 64;  // N_ref of the VBN reference batch
  // Minibatch discrimination on D's penultimate features (0 kernels: off).
  int64_t mbd_kernels = 0;
  int64_t mbd_kernel_dim = 5;
  // Stochastic deconvolution (sgan): filter sets per bank and how many of the
  // deepest upsampling layers are banks.
  int64_t sdeconv_sets = 8;
  int64_t sdeconv_layers = 4;
  uint64_t seed = 0;  // route draws of stochastic deconvolution
  // mlp (2-D mixtures): linear layers per network (hidden layers + output);
  // g_width / d_width > 0 override mlp_hidden, mlp_d_depth > 0 mlp_depth for D.
  int64_t mlp_hidden = 128;
  int64_t mlp_depth = 3;
  int64_t mlp_d_depth = 0;
  int64_t data_dim = 2;
  // SGAN for 2-D: the first mlp_banks hidden layers of G are stochastic banks
  // of sdeconv_sets linear filter sets (1×1 transposed convs), 0 = plain MLP.
  int64_t mlp_banks = 0;
  DActivation d_activation = DActivation::kLeakyRelu;  // mlp D only
  int64_t maxout_pieces = 5;
  Init mlp_init = Init::kKaimingNormal;  // weights of both MLPs (biases start at 0)
  // PacGAN packing [Lin et al. 2018]: D judges `pack` samples at once,
  // concatenated along features (mlp) or channels (images); its input layer
  // is `pack` times wider and it returns one logit per pack (models::pack_samples).
  int64_t pack = 1;
};

// Throws std::invalid_argument naming the first impossible setting
// (unknown arch, unsupported resolution, VBN in D, ...). Combinations with
// regularizers are checked by train/ (e.g. GN/PGN with a sample-coupling D).
void validate(const ModelConfig& config);

}  // namespace gantry::models

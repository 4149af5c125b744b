// DiReAL diversity regularization [Ayinde, Nishihama, Zurada 2019;
// docs/TECHNIQUES.md]. For a layer with filters w_1..w_n (rows of
// WeightLayer::filter_matrix(): output filters, transposed convs included):
//   S_ij = ⟨w_i, w_j⟩ / (‖w_i‖‖w_j‖),  A = S with its diagonal zeroed,
//   M_ij = [|A_ij| > τ] (no gradient),  J = Σ_ij (M_ij A_ij)²  (ordered pairs).
// R(N) = Σ_l J_l; the loss term is λ R(N), λ held here (the trainer logs R and
// λ R, "direal_d" and "direal_d_term"). Which layers (DirealScope): by
// default every conv / deconv that neither reads nor writes image channels —
// each network lists them (models: direal_layers()); scope "all" adds D's
// image-reading and G's image-writing layers, as the authors' code does (it
// skips only 3-channel layers). A layer with one output filter (G writing one
// channel) has no pair to compare: its rows are then its input-channel
// filters (WeightLayer::input_filter_matrix, the reference code's view of a
// transposed conv). Zero-norm filters are guarded with ε (the reference code
// divides by zero).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "common/named_enum.h"
#include "models/networks.h"
#include "models/weight_layer.h"

namespace gantry::reg {

enum class DirealScope { kHidden, kAll };
inline constexpr EnumName<DirealScope> kDirealScopeNames[] = {{DirealScope::kHidden, "hidden"},
                                                              {DirealScope::kAll, "all"}};
constexpr std::span<const EnumName<DirealScope>> enum_names(DirealScope) { return kDirealScopeNames; }

// The layers DiReAL regularizes in a network under `scope`.
std::vector<models::WeightLayer> direal_layers(const models::Generator& g, DirealScope scope);
std::vector<models::WeightLayer> direal_layers(const models::Discriminator& d, DirealScope scope);

struct DirealOptions {
  double tau = 0.5;
  double lambda = 0.1;  // TECHNIQUES.md: λ_D = 0.1, λ_G = 1e-3
  double eps = 1e-8;
};

// J for one (n, fan_in) filter matrix.
torch::Tensor direal_layer_penalty(const torch::Tensor& filters, double tau, double eps = 1e-8);

class Direal {
 public:
  Direal(std::vector<models::WeightLayer> layers, DirealOptions options);
  torch::Tensor value() const;                       // R(N) = Σ_l J_l (logged every step)
  double lambda() const { return options_.lambda; }  // the weight of R in the loss
  size_t num_layers() const { return layers_.size(); }

 private:
  std::vector<models::WeightLayer> layers_;
  DirealOptions options_;
};

}  // namespace gantry::reg

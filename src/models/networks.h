// The two players as gantry sees them, whatever the architecture:
// G maps z (B, z_dim) to images (B, C, H, W) in [−1, 1] (or points for mlp);
// D maps images to logits (B) and exposes its penultimate features (for
// feature matching and minibatch discrimination). Both list the layers DiReAL
// regularizes and say whether they couple the samples of a batch (batch norm,
// minibatch discrimination), which rules out per-sample techniques (GN, PGN).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace torch::jit {
struct Module;
}

#include "models/model_config.h"
#include "models/weight_layer.h"

namespace gantry::models {

// The context of stochastic-deconvolution route draws for the next forward.
struct RouteContext {
  int64_t step = 0;
  int64_t first_sample = 0;  // global index of this rank's first sample
};

class Generator : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& z) = 0;
  virtual std::vector<WeightLayer> direal_layers() const = 0;
  virtual bool couples_samples() const = 0;
  // The layer writing the image (points), for DiReAL's "all" scope (reg/direal.h).
  virtual std::vector<WeightLayer> output_layers() const = 0;
  int64_t z_dim() const { return z_dim_; }
  // Stochastic deconvolution only: routes for the next forward, and the
  // feature maps of the last forward (split loss).
  void set_route_context(const RouteContext& c) { route_ = c; }
  const std::vector<torch::Tensor>& split_maps() const { return split_maps_; }
  // This generator as a TorchScript module computing what forward computes in
  // eval mode (models/script_export.h); needs eval mode.
  virtual torch::jit::Module to_torchscript() = 0;

 protected:
  int64_t z_dim_ = 0;
  RouteContext route_;
  std::vector<torch::Tensor> split_maps_;
};

struct DOutput {
  torch::Tensor logits;    // (B)
  torch::Tensor features;  // (B, F) penultimate features
};

class Discriminator : public torch::nn::Module {
 public:
  virtual DOutput forward(const torch::Tensor& x) = 0;
  virtual std::vector<WeightLayer> direal_layers() const = 0;
  virtual bool couples_samples() const = 0;
  // The layer reading the image (points), for DiReAL's "all" scope (reg/direal.h).
  virtual std::vector<WeightLayer> input_layers() const = 0;
};

// PacGAN packing [Lin et al. 2018] at D's input: x (N, F, ...) → (N/m, m·F, ...),
// samples i·m .. i·m+m−1 side by side along the first feature axis (features
// of a point, channels of an image). Throws std::invalid_argument unless m
// divides N; m = 1 returns x.
torch::Tensor pack_samples(const torch::Tensor& x, int64_t m);

// Builders of config.arch. `sync` is the communicator synchronized
// layers (batch norm, minibatch discrimination) use when config asks for them;
// null means per-rank. Throw std::invalid_argument for a bad config.
std::shared_ptr<Generator> build_generator(const ModelConfig& config, dist::Communicator* sync = nullptr);
std::shared_ptr<Discriminator> build_discriminator(const ModelConfig& config, dist::Communicator* sync = nullptr);

}  // namespace gantry::models

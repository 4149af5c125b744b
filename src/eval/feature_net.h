// The network IS and FID are measured with: any TorchScript module given by
// path (never downloaded by gantry). Two calling conventions, told apart by
// the forward method's schema:
//   StyleGAN  forward(img, return_features: bool, ..., no_output_bias: bool):
//             the TorchScript Inception of StyleGAN2-ADA / StyleGAN3
//             (inception-2015-12-05.pt, which users download themselves).
//             Input uint8 RGB [N, 3, H, W] in [0, 255] (gantry converts from
//             [−1, 1] and repeats grey channels); features: 2048-d pool3 with
//             return_features=True; probabilities: no_output_bias=True (as
//             StyleGAN's IS). Numbers with it are comparable to the literature.
//   generic   forward(x) with x float [N, C, H, W] in [−1, 1] (gantry's image
//             range), returning features, or a tuple (features, logits) when
//             it classifies (probabilities = softmax(logits)). The classifier
//             of `gantry eval train-classifier` is such a module.
// A module may carry a string attribute `feature_space` naming its space
// (e.g. "FMNIST"): metric labels become FID-FMNIST, IS-FMNIST.
#pragma once
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>

namespace gantry::eval {

struct FeatureOutput {
  torch::Tensor features;  // float [N, F] on the CPU
  torch::Tensor probs;     // float [N, K] on the CPU; undefined if the network does not classify
};

class FeatureNet {
 public:
  // Throws std::invalid_argument naming the file if it is missing or not TorchScript.
  FeatureNet(const std::filesystem::path& file, torch::Device device);
  // images: float [N, C, H, W] in [−1, 1]. Throws std::runtime_error (one line) if the module rejects them.
  FeatureOutput forward(const torch::Tensor& images);
  bool classifies() const { return classifies_; }
  // "FMNIST", or "" for the StyleGAN Inception (plain FID / IS), or the file's stem.
  const std::string& feature_space() const { return space_; }
  // xxHash3 of the file: identifies the network in cached reference statistics.
  const std::string& digest() const { return digest_; }
  bool stylegan() const { return stylegan_; }

 private:
  torch::jit::Module module_;
  torch::Device device_;
  bool stylegan_ = false;
  bool classifies_ = false;
  std::string space_, digest_, file_;
};

// "FID" / "FID-FMNIST" style label of a metric in a feature space.
inline std::string metric_label(const std::string& metric, const std::string& space) {
  return space.empty() ? metric : metric + "-" + space;
}

// xxHash3 of a file's bytes as 16 hex digits (identifies datasets and networks).
std::string file_digest(const std::filesystem::path& file);

}  // namespace gantry::eval

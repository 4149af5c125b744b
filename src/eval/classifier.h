// The offline feature network: a small CNN classifier trained by gantry on a
// packed, labelled data set (`gantry eval train-classifier`), so that IS and
// FID have a feature space where no Inception network is at hand (no
// download, ever). It is saved as a real TorchScript module (parameters,
// buffers, a forward written in TorchScript, attributes feature_space and
// test_accuracy), so torch::jit::load and Python's torch.jit.load both read it
// and FeatureNet uses it through the generic convention:
//   forward(x [N, C, H, W] in [−1, 1]) → (features [N, F], logits [N, K]).
// Architecture: 2 × [conv 3×3, BN, ReLU, max-pool 2] (width w, 2w) → linear F
// + ReLU (the features) → linear K. Numbers in its space are labelled with its
// feature_space ("FID-FMNIST") and are not comparable to Inception numbers.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <string>

namespace gantry::eval {

struct ClassifierOptions {
  int64_t epochs = 3;
  int64_t batch = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
  int64_t width = 32;         // channels of the first conv (the second has 2×)
  int64_t features = 128;     // feature dimension (FID space)
  std::string feature_space;  // label, e.g. "FMNIST"
};

struct ClassifierReport {
  int64_t train_images = 0, test_images = 0, classes = 0;
  double train_accuracy = 0;  // running accuracy over the last epoch
  double test_accuracy = -1;  // -1 without a test set
  double seconds = 0;
};

// Trains on `data` (must hold labels), measures on `test` if not empty,
// writes the TorchScript module to `out` atomically. `progress(epoch, accuracy)`
// is called after each epoch. Throws std::invalid_argument for bad input.
ClassifierReport train_classifier(const std::filesystem::path& data, const std::filesystem::path& test,
                                  const std::filesystem::path& out, const ClassifierOptions& options,
                                  const std::function<void(int64_t, double)>& progress = {});

}  // namespace gantry::eval

// Reading a checkpoint back outside training (gantry sample / export /
// inspect / diff): the networks rebuilt from the config saved in it, and
// every tensor under a stable name.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "models/networks.h"
#include "train/checkpoint_layout.h"
#include "train/train_config.h"

namespace gantry::train {

struct CheckpointNets {
  TrainConfig config;
  std::string config_text;
  int64_t step = 0;
  std::shared_ptr<models::Generator> g, g_ema;
  std::shared_ptr<models::Discriminator> d;

  torch::nn::Module& module(Net net) {
    return net == Net::kG   ? static_cast<torch::nn::Module&>(*g)
           : net == Net::kD ? static_cast<torch::nn::Module&>(*d)
                            : static_cast<torch::nn::Module&>(*g_ema);
  }
};

// Throws std::invalid_argument naming the file for a missing, damaged or foreign checkpoint.
CheckpointNets load_nets(const std::filesystem::path& file);

// The newest checkpoint of a run dir that verifies; throws std::invalid_argument if none does.
std::filesystem::path newest_checkpoint(const std::filesystem::path& run_dir);

// Every tensor of a checkpoint as "G/up0/weight", "opt_g/state/<group>.<index>/exp_avg", ...
// (LibTorch keys optimizer state by parameter address; it is renamed to the
// parameter's position so that checkpoints of different processes compare),
// plus the string entries (the config).
struct FlatCheckpoint {
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> strings;
};
FlatCheckpoint flatten_checkpoint(const std::filesystem::path& file);

}  // namespace gantry::train

// What a gantry checkpoint holds, listed once. The trainer's save and resume,
// `gantry sample` / `export` (the networks), `inspect` (the counters) and
// `diff` (what it ignores) all go through these lists, so an entry cannot be
// written under one key and read under another.
//
// Archive layout (LibTorch OutputArchive inside checkpoint_file.h's checksummed
// container), unchanged since the first checkpoint gantry wrote:
//   G, D, G_ema          modules (parameters and buffers)
//   opt_g, opt_d         FusedAdam state of G and D
//   ha_g, ha_d           historical averages "0".."n-1" (+ count), only when reg.ha_lambda_* > 0
//   step, images_seen, d_steps, sampler_epoch, sampler_offset, world_size, param_hash
//                        0-dim int64 tensors
//   config               the resolved config as TOML (a string)
// Add entries; never rename or remove one: old checkpoints keep loading
// (tests/fixtures/ckpt-v1-mlp-ha.pt is one, tested by e2e_checkpoint_tools).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/named_enum.h"
#include "dist/replicas.h"

namespace gantry::reg {
class HistoricalAverage;
}

namespace gantry::train {

// The networks of a checkpoint, by the names users pass to `--net`.
enum class Net { kG, kD, kGEma };
inline constexpr EnumName<Net> kNetNames[] = {{Net::kG, "G"}, {Net::kD, "D"}, {Net::kGEma, "G_ema"}};
constexpr std::span<const EnumName<Net>> enum_names(Net) { return kNetNames; }

// The state a checkpoint's parts are read into or written from. A null part is
// not written, and not read (gantry sample needs only the networks; a run
// without historical averaging has no ha_*).
struct CheckpointParts {
  torch::nn::Module* g = nullptr;
  torch::nn::Module* d = nullptr;
  torch::nn::Module* g_ema = nullptr;
  torch::optim::Optimizer* opt_g = nullptr;
  torch::optim::Optimizer* opt_d = nullptr;
  reg::HistoricalAverage* ha_g = nullptr;
  reg::HistoricalAverage* ha_d = nullptr;
};

// The counters: where training stands, and (world_size, param_hash) what wrote it.
struct CheckpointCounters {
  int64_t step = 0;           // G updates done
  int64_t images_seen = 0;    // real images D has seen, all ranks
  int64_t d_steps = 0;        // D updates done
  int64_t sampler_epoch = 0;  // the data position to resume from
  int64_t sampler_offset = 0;
  int64_t world_size = 0;  // ranks that saved it
  int64_t param_hash = 0;  // combined xxHash3 of replicated_tensors() (dist/replicas.h), as int64
};

inline constexpr const char* kConfigKey = "config";

// (key, counter) in archive order.
struct CounterEntry {
  const char* key;
  int64_t CheckpointCounters::*member;
  bool describes_state;  // false: identical states saved on other ranks differ here (diff skips them)
};
inline constexpr CounterEntry kCounterEntries[] = {
    {"step", &CheckpointCounters::step, true},
    {"images_seen", &CheckpointCounters::images_seen, true},
    {"d_steps", &CheckpointCounters::d_steps, true},
    {"sampler_epoch", &CheckpointCounters::sampler_epoch, true},
    {"sampler_offset", &CheckpointCounters::sampler_offset, true},
    {"world_size", &CheckpointCounters::world_size, false},
    {"param_hash", &CheckpointCounters::param_hash, false},
};

// False for the counters that say who saved a checkpoint (world_size,
// param_hash), not what state it holds.
inline bool describes_state(const std::string& key) {
  for (const auto& c : kCounterEntries)
    if (key == c.key) return c.describes_state;
  return true;
}

// (key, part) for every part of `parts`, null ones included, in archive order.
using PartRef = std::variant<torch::nn::Module*, torch::optim::Optimizer*, reg::HistoricalAverage*>;
struct PartEntry {
  std::string key;
  PartRef part;
};
std::vector<PartEntry> part_entries(const CheckpointParts& parts);

// Every tensor of the non-null parts, named "<key>.<name>" ("G.fc1.weight", "opt_d.0.3.exp_avg" for group 0,
// parameter 3, "ha_d.2"): the replicated state, identical on every rank by design (ARCHITECTURE.md,
// invariant 2), that the trainer's hash check covers before each checkpoint. Optimizer state is Adam's
// moments (std::logic_error for another optimizer's state); FusedAdam's step counts are not tensors of it.
dist::NamedTensors replicated_tensors(const CheckpointParts& parts);

// Writes every non-null part, the counters and the config.
void write_checkpoint_parts(torch::serialize::OutputArchive& archive, const CheckpointParts& parts,
                            const CheckpointCounters& counters, const std::string& config_toml);

// Reads every non-null part and the counters (c10::Error for a missing entry or
// tensors of other shapes: the caller names the file).
CheckpointCounters read_checkpoint_parts(torch::serialize::InputArchive& archive, const CheckpointParts& parts);

// The saved config's TOML; std::invalid_argument if the checkpoint has none.
std::string read_checkpoint_config(torch::serialize::InputArchive& archive);

}  // namespace gantry::train

// The experiment config of `gantry train`: TOML with sections [model],
// [data], [train], [reg], [log]; `--set section.key=value` overrides any key.
// Every key has a default (TECHNIQUES.md); unknown keys, wrong types and
// out-of-range values are errors (std::invalid_argument, one line naming the
// key). Every key that names a choice (train.loss, model.arch, ...) is
// resolved once, where it is read, into its typed field: the trainer never
// compares strings. The resolved config is written to the run dir as config.toml.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/sampler.h"
#include "models/model_config.h"
#include "reg/direal.h"
#include "reg/feature_matching.h"
#include "reg/gradient_normalization.h"
#include "train/precision.h"

namespace gantry::train {

enum class Loss { kBce, kHinge, kWasserstein };
inline constexpr EnumName<Loss> kLossNames[] = {
    {Loss::kBce, "bce"}, {Loss::kHinge, "hinge"}, {Loss::kWasserstein, "wasserstein"}};
constexpr std::span<const EnumName<Loss>> enum_names(Loss) { return kLossNames; }

// Learning rate over training: constant, or linear decay to 0 at the last step.
enum class LrSchedule { kConstant, kLinear };
inline constexpr EnumName<LrSchedule> kLrScheduleNames[] = {{LrSchedule::kConstant, "constant"},
                                                            {LrSchedule::kLinear, "linear"}};
constexpr std::span<const EnumName<LrSchedule>> enum_names(LrSchedule) { return kLrScheduleNames; }

struct DataConfig {
  std::string path;          // packed HDF5 dataset (gantry pack / synth)
  std::string mixture;       // instead of path, for model.arch = "mlp": ring8 | grid25 | pacgan_ring8 | pacgan_grid25
  int64_t mixture_pool = 0;  // 0: fresh samples every step; P: a fixed set of P samples, reshuffled per epoch
  int64_t batch = 64;        // global batch of real images per D step
  bool hflip = false;
  int64_t shift = 0;  // max integer shift (pixels)
  data::LastBatch last_batch = data::LastBatch::kDrop;
  int64_t prefetch = 4;
  int64_t decode_threads = 1;
  bool in_memory = false;
  bool file_locking = true;
};

struct OptimConfig {
  double lr = 2e-4;
  double beta1 = 0.0;
  double beta2 = 0.9;
};

struct TrainingConfig {
  int64_t steps = 1000;  // G updates
  int64_t n_dis = 1;     // D updates per G update
  int64_t g_batch = 0;   // global batch of the G step (0: data.batch)
  Loss loss = Loss::kBce;
  OptimConfig g, d;
  LrSchedule lr_schedule = LrSchedule::kConstant;
  // From this G step on (0: never) both optimizers use β1 = beta1_switch_to. Adam's momentum speeds the
  // early phase of the 2-D protocol and feeds the late rotation that starts its collapses (docs/RESULTS.md).
  int64_t beta1_switch_step = 0;
  double beta1_switch_to = 0.0;
  uint64_t seed = 0;
  double ema_beta = 0.9999;
  int64_t ema_start = 0;
  int64_t checkpoint_every = 500;
  int64_t keep_checkpoints = 3;
  int64_t max_bad_steps = 10;                       // consecutive non-finite steps that stop the run
  std::string stop_signals = "TERM,INT,USR1,USR2";  // checkpoint and exit 75 on these
  Precision precision = Precision::kFp32;           // bf16: autocast forwards (train/precision.h)
  bool channels_last = false;                       // NHWC parameters and image batches
  bool grad_sync_overlap = true;                    // all-reduce gradient buckets during backward (false: after it)
  double bucket_cap_mb = 25;                        // GradSync bucket size (the first bucket: 1 MiB or less)
  bool pack_slot_forward = false;                   // pack > 1: a G call per pack slot (PacGAN's BN groups)
};

struct RegConfig {
  bool direal_d = false, direal_g = false;
  double direal_tau_d = 0.5, direal_tau_g = 0.5;
  double direal_lambda_d = 0.1, direal_lambda_g = 1e-3;
  reg::DirealScope direal_layers = reg::DirealScope::kHidden;  // all: also the image-reading/-writing layers
  reg::GradNorm grad_norm = reg::GradNorm::kNone;
  bool wgan_gp = false;
  double gp_lambda = 10.0;
  double r1_gamma = 0.0;  // 0: off
  int64_t r1_interval = 1;
  double cr_lambda = 0.0;  // 0: off
  double cr_shift = 0.2;
  bool feature_matching = false;
  reg::FeatureMatchingDistance fm_distance = reg::FeatureMatchingDistance::kSquaredL2;
  double ha_lambda_d = 0.0, ha_lambda_g = 0.0;  // 0: off
  double label_smoothing = 1.0;                 // real BCE target (0.9 = one-sided smoothing)
  double split_loss_lambda = 0.0;               // sgan only
};

struct LogConfig {
  int64_t every = 50;          // metrics line every N steps
  int64_t sample_every = 500;  // sample grids every N steps (and at the end)
  int64_t sample_count = 64;
  // Where each step's time goes (metrics time_*_comm_s, time_*_backward_s, and
  // per-bucket ready times in timing.jsonl; on CUDA one device sync per phase).
  bool timing = false;
};

// Evaluation during training (`gantry eval` semantics, eval/): every `every`
// steps, logged to metrics.jsonl and TensorBoard. 0: off.
struct EvalConfig {
  int64_t every = 0;
  std::string metrics = "";  // comma list of is, fid, modes, diversity
  int64_t count = 0;         // generated samples (0: 2500 for modes, else 10000)
  std::string feature_net;   // TorchScript module or gantry classifier (is, fid, diversity on images)
  bool ema = true;           // evaluate G_ema (else G)
  int64_t bn_standing = 0;   // > 0: G's batch-norm statistics recomputed from this many batches first (standing)
};

struct TrainConfig {
  models::ModelConfig model;
  DataConfig data;
  TrainingConfig train;
  RegConfig reg;
  LogConfig log;
  EvalConfig eval;
  int64_t g_batch() const { return train.g_batch > 0 ? train.g_batch : data.batch; }
};

// Defaults overridden by `file` (if not empty) then by each "key=value" of
// `overrides`; then validated as a whole (model, data file, combinations,
// batch divisible by world_size). Throws std::invalid_argument.
TrainConfig load_config(const std::string& file, const std::vector<std::string>& overrides, int world_size);
void validate(TrainConfig& config, int world_size);

// The resolved config as TOML (every key), and parsed back by load_config.
std::string to_toml(const TrainConfig& config);

// A config saved in a checkpoint, with its model part parsed and validated
// (no data checks: sampling and export need no dataset).
TrainConfig config_from_saved_toml(const std::string& text);

// The first key that makes a checkpoint saved under `saved` unreadable by a
// trainer built from `now` ("model.arch: checkpoint \"mlp\", config \"dcgan\""):
// any model.* key, or historical averaging switched on or off (its state is in
// the checkpoint or not). "" when they are compatible.
std::string checkpoint_incompatibility(const TrainConfig& saved, const TrainConfig& now);

}  // namespace gantry::train

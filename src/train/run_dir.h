// What `gantry train` checks before any training, while the ranks can still
// agree on one error line (cli/rank_errors): the run dir is a usable folder,
// stale partial checkpoint files of a killed writer are gone, its checkpoints
// (if any) are of the model the config describes, and every rank resolved the
// same config for the same data. Each throws std::invalid_argument.
#pragma once
#include <filesystem>

#include "dist/world.h"
#include "train/checkpoint_file.h"
#include "train/train_config.h"

namespace gantry::train {

// Rank 0's part: create the run dir (or find it) and clean it. No collectives.
void prepare_run_dir(const std::filesystem::path& run_dir);

// The checkpoint about to be resumed (the run dir's newest valid one) must be
// of the model `config` describes: otherwise LibTorch would fail deep inside
// loading. Names the first differing key. Every rank, before loading it.
void check_resumable(LoadedCheckpoint& ckpt, const std::filesystem::path& run_dir, const TrainConfig& config);

// Every rank: a digest of the resolved config and of the data file's identity
// (size, and for images the dataset's shape and count) compared with rank 0's
// (one all-gather over MPI); names the first rank that differs. Call only when
// every rank got this far (a collective).
void check_same_config_on_all_ranks(dist::World& world, const TrainConfig& config);

}  // namespace gantry::train

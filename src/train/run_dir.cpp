#include "train/run_dir.h"

#include <mpi.h>
#include <xxhash.h>

#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "dist/communicator.h"
#include "train/checkpoint_file.h"
#include "train/checkpoint_layout.h"

namespace gantry::train {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void bad(const std::string& message) { throw std::invalid_argument(message); }

// Hidden ".ckpt-*.pt.partial" files: a writer killed between write and rename
// (common/atomic_file.h) leaves one; nothing ever reads them.
void remove_stale_partials(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind(".ckpt-", 0) == 0 && name.ends_with(".partial")) fs::remove(e.path(), ec);
  }
}

}  // namespace

void prepare_run_dir(const fs::path& run_dir) {
  std::error_code ec;
  if (fs::exists(run_dir, ec) && !fs::is_directory(run_dir, ec))
    bad("run dir " + run_dir.string() + " exists and is not a folder");
  fs::create_directories(run_dir, ec);
  if (ec) bad("cannot create run dir " + run_dir.string() + ": " + ec.message());
  const fs::path probe = run_dir / ".gantry-write-probe";
  if (!std::ofstream(probe)) bad("run dir " + run_dir.string() + " is not writable");
  fs::remove(probe, ec);
  remove_stale_partials(run_dir);
}

void check_resumable(LoadedCheckpoint& ckpt, const fs::path& run_dir, const TrainConfig& config) {
  TrainConfig saved;
  try {
    saved = config_from_saved_toml(read_checkpoint_config(ckpt.archive));
  } catch (const std::invalid_argument& e) {
    bad(ckpt.path.string() + ": " + e.what());
  }
  const auto diff = checkpoint_incompatibility(saved, config);
  if (!diff.empty())
    bad("run dir " + run_dir.string() + " holds checkpoints of another model (" + diff +
        "): resume with the checkpoint's config, or use another --run-dir");
}

void check_same_config_on_all_ranks(dist::World& world, const TrainConfig& config) {
  std::string identity = to_toml(config);
  if (!config.data.path.empty()) {
    std::error_code ec;
    identity += "\ndata size " + std::to_string(fs::file_size(config.data.path, ec));
  }
  const unsigned long long mine = XXH3_64bits(identity.data(), identity.size());
  std::vector<unsigned long long> all(static_cast<size_t>(world.size()));
  MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, world.comm().mpi_comm());
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      bad("rank " + std::to_string(r) +
          " resolved another config or data file than rank 0 (different --config, --set "
          "or data per rank?): every rank must train the same config on the same data");
}

}  // namespace gantry::train

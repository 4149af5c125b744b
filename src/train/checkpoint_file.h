// Checkpoint files: a LibTorch archive followed by a 24-byte footer
// ("GANTRYCK", payload size, xxHash3 of the payload). Written atomically
// (hidden temp file in the run dir, fsync, rename, fsync of the directory) as
// ckpt-<step>.pt; the newest `keep` are kept. Reading verifies size and hash,
// so a truncated or corrupted file is detected before anything is loaded.
#pragma once
#include <torch/serialize.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gantry::train {

// Writes `archive` as ckpt-<step>.pt in dir; prunes to the newest `keep`. Returns the path.
std::filesystem::path write_checkpoint(const std::filesystem::path& dir, int64_t step,
                                       torch::serialize::OutputArchive& archive, int64_t keep);

// The verified payload of one checkpoint file; throws std::runtime_error with the reason.
std::string read_checkpoint_payload(const std::filesystem::path& file);

// Checkpoint files in dir, newest (highest step) first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

struct LoadedCheckpoint {
  std::filesystem::path path;
  torch::serialize::InputArchive archive;
};
// The newest checkpoint that verifies; each one that does not is reported on
// stderr ("checkpoint X is corrupt: ...; falling back") and skipped. Its
// tensors are put on `device` (a trainer resumes onto its own device; tools read on the CPU).
std::optional<LoadedCheckpoint> load_newest_valid(const std::filesystem::path& dir, bool report,
                                                  torch::Device device = torch::kCPU);

// Tensors are put on `device` whatever device saved them (checkpoints move between CUDA and CPU).
void load_archive(torch::serialize::InputArchive& archive, const std::string& payload,
                  torch::Device device = torch::kCPU);

}  // namespace gantry::train

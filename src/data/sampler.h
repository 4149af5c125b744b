// The global-batch sampler: DistributedSampler semantics done right for GANs.
//
// Each epoch is one permutation of [0, N) drawn from (seed, epoch). The global
// batch at a given position is the same list of images whatever the world size;
// rank r of W takes the contiguous slots [r·B/W, (r+1)·B/W) of it, so the
// ranks' batches concatenated in rank order are exactly the 1-rank batch (what
// all_gather returns, and what makes world-size invariance testable).
//
// The position is global — (epoch, offset into that epoch's permutation) — so a
// checkpoint taken on W ranks resumes exactly on any other W (or global batch).
//
// Last partial batch of an epoch:
//   kDrop     — skipped; the next epoch starts (the usual GAN choice: every
//               batch is full and each image is seen at most once per epoch;
//               the dropped images differ from epoch to epoch).
//   kContinue — the batch is completed from the next epoch's permutation, so
//               every image is seen exactly once per epoch and no image is lost.
#pragma once
#include <cstdint>

#include "common/named_enum.h"
#include <string>
#include <vector>

namespace gantry::data {

enum class LastBatch { kDrop, kContinue };
inline constexpr EnumName<LastBatch> kLastBatchNames[] = {{LastBatch::kDrop, "drop"},
                                                          {LastBatch::kContinue, "continue"}};
constexpr std::span<const EnumName<LastBatch>> enum_names(LastBatch) { return kLastBatchNames; }

struct SamplerState {
  int64_t epoch = 0;   // permutation in use
  int64_t offset = 0;  // next slot of that permutation
  bool operator==(const SamplerState&) const = default;
};

// One slot of a batch: which image, and the key its augmentation draws from
// (a function of seed, epoch and slot, not of the rank that reads it).
struct Slot {
  int64_t image = 0;
  uint64_t aug_key = 0;
};

class GlobalBatchSampler {
 public:
  // Throws std::invalid_argument for an empty dataset, a non-positive batch or
  // a batch larger than the dataset.
  GlobalBatchSampler(int64_t num_images, int64_t global_batch, uint64_t seed, LastBatch policy);

  int64_t num_images() const { return n_; }
  int64_t global_batch() const { return batch_; }
  uint64_t seed() const { return seed_; }
  LastBatch policy() const { return policy_; }
  // Full batches per epoch (kDrop) or batches needed to cover N images on average (kContinue: N/B).
  int64_t steps_per_epoch() const { return n_ / batch_; }

  // The permutation of epoch e (a pure function of seed and e).
  const std::vector<int64_t>& permutation(int64_t epoch) const;

  // Where the batch at `state` really starts (a finished epoch or, under kDrop,
  // a too-short tail moves it to the next epoch).
  SamplerState batch_start(SamplerState state) const;
  // The whole global batch at `state`; advances `state` past it.
  std::vector<Slot> next_global(SamplerState& state) const;
  // This rank's share of it. Throws std::invalid_argument unless world divides the batch.
  std::vector<Slot> next_local(SamplerState& state, int rank, int world) const;

  // Throws std::invalid_argument if `state` cannot be a position of this sampler.
  void check_state(const SamplerState& state) const;

 private:
  int64_t n_;
  int64_t batch_;
  uint64_t seed_;
  LastBatch policy_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_perm_;
};

}  // namespace gantry::data

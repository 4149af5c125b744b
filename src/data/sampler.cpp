#include "data/sampler.h"

#include <numeric>
#include <stdexcept>

#include "common/rng.h"

namespace gantry::data {

namespace {
constexpr uint64_t kPermutationTag = 0x7065726d75746531ull;  // distinct streams for permutation and augmentation
constexpr uint64_t kAugmentTag = 0x6175676d656e7431ull;
}  // namespace

GlobalBatchSampler::GlobalBatchSampler(int64_t num_images, int64_t global_batch, uint64_t seed, LastBatch policy)
    : n_(num_images), batch_(global_batch), seed_(seed), policy_(policy) {
  if (n_ <= 0) throw std::invalid_argument("sampler: the dataset holds no images");
  if (batch_ <= 0) throw std::invalid_argument("sampler: global batch must be positive, not " + std::to_string(batch_));
  if (batch_ > n_)
    throw std::invalid_argument("sampler: global batch " + std::to_string(batch_) + " is larger than the dataset (" +
                                std::to_string(n_) + " images)");
}

const std::vector<int64_t>& GlobalBatchSampler::permutation(int64_t epoch) const {
  if (epoch != cached_epoch_) {
    // Fisher-Yates driven by a generator keyed on (seed, epoch).
    cached_perm_.resize(static_cast<size_t>(n_));
    std::iota(cached_perm_.begin(), cached_perm_.end(), int64_t{0});
    SplitMix64 rng(key(kPermutationTag, seed_, static_cast<uint64_t>(epoch)));
    for (int64_t i = n_ - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
      std::swap(cached_perm_[i], cached_perm_[j]);
    }
    cached_epoch_ = epoch;
  }
  return cached_perm_;
}

void GlobalBatchSampler::check_state(const SamplerState& s) const {
  if (s.epoch < 0 || s.offset < 0 || s.offset > n_)
    throw std::invalid_argument("sampler: position (epoch " + std::to_string(s.epoch) + ", offset " +
                                std::to_string(s.offset) + ") is outside a dataset of " + std::to_string(n_) +
                                " images");
}

SamplerState GlobalBatchSampler::batch_start(SamplerState s) const {
  check_state(s);
  if (s.offset == n_ || (policy_ == LastBatch::kDrop && s.offset + batch_ > n_)) s = {s.epoch + 1, 0};
  return s;
}

std::vector<Slot> GlobalBatchSampler::next_global(SamplerState& s) const {
  s = batch_start(s);
  std::vector<Slot> slots;
  slots.reserve(static_cast<size_t>(batch_));
  while (static_cast<int64_t>(slots.size()) < batch_) {
    if (s.offset == n_) s = {s.epoch + 1, 0};  // kContinue straddles into the next epoch
    const auto& perm = permutation(s.epoch);
    const uint64_t aug = key(kAugmentTag, seed_, static_cast<uint64_t>(s.epoch), static_cast<uint64_t>(s.offset));
    slots.push_back({perm[static_cast<size_t>(s.offset)], aug});
    ++s.offset;
  }
  return slots;
}

std::vector<Slot> GlobalBatchSampler::next_local(SamplerState& s, int rank, int world) const {
  if (world <= 0 || rank < 0 || rank >= world)
    throw std::invalid_argument("sampler: rank " + std::to_string(rank) + " of world " + std::to_string(world));
  if (batch_ % world != 0)
    throw std::invalid_argument("global batch " + std::to_string(batch_) + " is not divisible by the world size " +
                                std::to_string(world));
  const int64_t local = batch_ / world;
  const auto global = next_global(s);
  return {global.begin() + rank * local, global.begin() + (rank + 1) * local};
}

}  // namespace gantry::data

#include "data/mixture_source.h"

#include <cmath>
#include <stdexcept>

#include "common/rng.h"

namespace gantry::data {

namespace {
constexpr uint64_t kMixtureTag = 0x4D49585455524532ull;  // "MIXTURE2"
}

torch::Tensor mixture_samples(const Mixture2D& mixture, uint64_t seed, int64_t first, int64_t n, torch::Tensor* modes) {
  auto out = torch::empty({n, 2}, torch::kDouble);
  auto mode = torch::empty({n}, torch::kLong);
  auto* p = out.data_ptr<double>();
  auto* m = mode.data_ptr<int64_t>();
  const uint64_t k = mixture.centers.size();
  for (int64_t i = 0; i < n; ++i) {
    SplitMix64 r(key(seed, kMixtureTag, static_cast<uint64_t>(first + i)));
    const auto c = r.below(k);
    const double u1 = r.uniform(), u2 = r.uniform();
    const double radius = std::sqrt(-2.0 * std::log1p(-u1));  // 1 − u1 ∈ (0, 1]: finite
    p[2 * i] = mixture.centers[c][0] + mixture.sigma * radius * std::cos(2 * M_PI * u2);
    p[2 * i + 1] = mixture.centers[c][1] + mixture.sigma * radius * std::sin(2 * M_PI * u2);
    m[i] = static_cast<int64_t>(c);
  }
  if (modes) *modes = mode;
  return out;
}

MixtureSource::MixtureSource(Mixture2D mixture, uint64_t seed, int64_t global_batch, int rank, int world,
                             SamplerState start, torch::Device device, int64_t pool)
    : mixture_(std::move(mixture)),
      seed_(seed),
      global_batch_(global_batch),
      rank_(rank),
      world_(world),
      drawn_(start.offset),
      device_(device) {
  if (world <= 0 || global_batch <= 0 || global_batch % world != 0)
    throw std::invalid_argument("mixture source: global batch " + std::to_string(global_batch) +
                                " must be a positive multiple of the world size " + std::to_string(world));
  if (pool < 0) throw std::invalid_argument("mixture source: the pool size must be non-negative");
  if (pool > 0) {
    sampler_.emplace(pool, global_batch, seed, LastBatch::kContinue);  // throws for a batch larger than the pool
    sampler_->check_state(start);
    pool_state_ = start;
    pool_ = mixture_samples(mixture_, seed, 0, pool, &pool_modes_);
    return;
  }
  if (start.epoch != 0 || start.offset < 0) throw std::invalid_argument("mixture source: bad resume position");
}

Batch MixtureSource::next() {
  const int64_t b = global_batch_ / world_;
  Batch batch;
  if (sampler_) {  // fixed pool: the sampler's permutation picks this rank's rows (its state is the resume position)
    const auto slots = sampler_->next_local(pool_state_, rank_, world_);
    std::vector<int64_t> rows(slots.size());
    for (size_t i = 0; i < slots.size(); ++i) rows[i] = slots[i].image;
    batch.indices = torch::tensor(rows, torch::kLong);
    batch.images = pool_.index_select(0, batch.indices).to(torch::kFloat).to(device_);
    batch.labels = pool_modes_.index_select(0, batch.indices).to(device_);
    batch.next = state();
    return batch;
  }
  const int64_t first = drawn_ + rank_ * b;  // fresh samples: global sample number = key of its draw
  batch.images = mixture_samples(mixture_, seed_, first, b, &batch.labels).to(torch::kFloat).to(device_);
  batch.labels = batch.labels.to(device_);
  batch.indices = torch::arange(first, first + b, torch::kLong);
  drawn_ += global_batch_;
  batch.next = state();
  return batch;
}

}  // namespace gantry::data

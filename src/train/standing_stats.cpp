#include "train/standing_stats.h"

#include <stdexcept>
#include <string>

#include "common/rng.h"

namespace gantry::train {

namespace {
constexpr uint64_t kStandingNoise = 0x5354414E44494E47ull;  // "STANDING"
}  // namespace

StandingStatistics::StandingStatistics(models::Generator& g, int64_t batches, int64_t batch, uint64_t seed,
                                       torch::Device device, dist::Communicator* comm) {
  const bool was_training = g.is_training();
  const int world = comm ? comm->size() : 1, rank = comm ? comm->rank() : 0;
  if (batches < 1 || batch < 2 * world)
    throw std::invalid_argument("standing statistics: " + std::to_string(batches) + " batches of " +
                                std::to_string(batch) + " rows over " + std::to_string(world) +
                                " ranks (need ≥ 1 batch and ≥ 2 rows per rank)");
  torch::NoGradGuard no_grad;
  bool synchronized = true;
  for (const auto& m : g.modules(/*include_self=*/false)) {
    auto* bn = dynamic_cast<models::BatchNormImpl*>(m.get());
    if (bn == nullptr) continue;
    Saved s{bn, bn->options().momentum, {}, {}};
    for (auto& b : bn->buffers()) {
      s.buffers.push_back(b);
      s.values.push_back(b.clone());
    }
    synchronized = synchronized && bn->synchronized();
    saved_.push_back(std::move(s));
  }
  if (saved_.empty()) return;
  // Synchronized batch norm: rank r forwards rows [⌊r·batch/W⌋, ⌊(r+1)·batch/W⌋) (uneven shares
  // are fine: it weighs every rank by its count). Per-rank batch norm: every rank forwards the
  // whole batch, so every rank computes what one process computes, without communication.
  const int64_t first = synchronized ? rank * batch / world : 0;
  const int64_t rows = synchronized ? (rank + 1) * batch / world - first : batch;
  g.train();
  try {
    for (int64_t k = 0; k < batches; ++k) {
      for (auto& s : saved_) s.bn->set_momentum(1.0 / static_cast<double>(k + 1));
      const auto gen = at::make_generator<at::CPUGeneratorImpl>(key(seed, kStandingNoise, static_cast<uint64_t>(k)));
      const auto z = torch::randn({batch, g.z_dim()}, gen).narrow(0, first, rows).to(device);
      g.set_route_context({0, k * batch + first});
      g.forward(z);
    }
  } catch (...) {  // no destructor runs for a constructor that throws: put everything back here
    g.train(was_training);
    restore();
    throw;
  }
  g.train(was_training);
}

StandingStatistics::~StandingStatistics() { restore(); }

void StandingStatistics::restore() {
  torch::NoGradGuard no_grad;
  for (auto& s : saved_) {
    s.bn->set_momentum(s.momentum);
    for (std::size_t i = 0; i < s.buffers.size(); ++i) s.buffers[i].copy_(s.values[i]);
  }
}

}  // namespace gantry::train

// Helpers shared by the multi-rank tests.
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "dist/world.h"

namespace gantry::test {

inline dist::World& world() { return dist::World::get(); }

// Rank r's deterministic input for a test: the same on every rank that asks,
// so each rank can compute the expected result of a collective by itself.
inline torch::Tensor rank_values(int rank, std::int64_t n, torch::ScalarType dtype, std::uint64_t salt,
                                 bool small_integers) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(salt * 131 + static_cast<std::uint64_t>(rank) + 1);
  torch::Tensor v = small_integers ? at::randint(-8, 9, {n}, gen, torch::kDouble) : at::randn({n}, gen, torch::kDouble);
  return v.to(dtype);
}

}  // namespace gantry::test

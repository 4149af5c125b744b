// Keeping replicated modules identical: broadcast from rank 0 at start, and a
// cross-rank consistency check (hash of every parameter and buffer) that
// names the first tensor and the first rank that differ.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"

namespace gantry::dist {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Parameters then buffers of `module`, under their module names ("buffer:" never prefixes; names are unique).
NamedTensors parameters_and_buffers(const torch::nn::Module& module);

// Overwrites every parameter and buffer with rank `root`'s values (fused per dtype/device).
void broadcast_parameters(const torch::nn::Module& module, Communicator& comm, int root = 0);
void broadcast_tensors(const NamedTensors& tensors, Communicator& comm, int root = 0);

// 64-bit hash of a tensor's bytes (xxHash3), independent of its strides.
std::uint64_t tensor_hash(const torch::Tensor& t);

struct ConsistencyReport {
  bool consistent = true;
  std::string first_tensor;  // name of the first tensor that differs
  int first_rank = -1;       // lowest rank whose copy differs from rank 0's
  std::uint64_t hash = 0;    // combined hash of rank 0's tensors
  std::string message() const;
};

// Collective: every rank gets the same report.
ConsistencyReport check_consistency(const NamedTensors& tensors, Communicator& comm);
ConsistencyReport check_consistency(const torch::nn::Module& module, Communicator& comm);

}  // namespace gantry::dist

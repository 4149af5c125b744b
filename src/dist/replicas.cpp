#include "dist/replicas.h"

#include <torch/torch.h>
#include <xxhash.h>

#include <map>
#include <sstream>
#include <tuple>

#include "dist/error.h"

namespace gantry::dist {

NamedTensors parameters_and_buffers(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

void broadcast_tensors(const NamedTensors& tensors, Communicator& comm, int root) {
  torch::NoGradGuard no_grad;
  // Fuse by (device, dtype): one broadcast per group instead of one per tensor.
  std::map<std::tuple<std::string, int>, std::vector<torch::Tensor>> groups;
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    groups[{t.device().str(), static_cast<int>(t.scalar_type())}].push_back(t);
  }
  for (auto& [key, list] : groups) {
    std::vector<torch::Tensor> flat;
    for (const auto& t : list) flat.push_back(t.reshape({-1}));
    torch::Tensor buf = torch::cat(flat);
    comm.broadcast(buf, root);
    std::int64_t off = 0;
    for (auto& t : list) {
      t.copy_(buf.narrow(0, off, t.numel()).view_as(t));
      off += t.numel();
    }
  }
}

void broadcast_parameters(const torch::nn::Module& module, Communicator& comm, int root) {
  broadcast_tensors(parameters_and_buffers(module), comm, root);
}

std::uint64_t tensor_hash(const torch::Tensor& t) {
  if (!t.defined()) return 0;
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  return XXH3_64bits(c.data_ptr(), static_cast<std::size_t>(c.numel() * c.element_size()));
}

std::string ConsistencyReport::message() const {
  if (consistent) return "replicas consistent";
  std::ostringstream out;
  out << "replicas differ: tensor '" << first_tensor << "' on rank " << first_rank << " differs from rank 0";
  return out.str();
}

ConsistencyReport check_consistency(const NamedTensors& tensors, Communicator& comm) {
  const auto n = static_cast<std::int64_t>(tensors.size());
  torch::Tensor mine = torch::empty({1, n}, torch::kLong);
  auto* h = mine.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) h[i] = static_cast<std::int64_t>(tensor_hash(tensors[i].second));
  torch::Tensor all = comm.all_gather(mine);  // [world, n]; a different tensor count is a DistError
  ConsistencyReport report;
  report.hash = XXH3_64bits(all[0].data_ptr(), static_cast<std::size_t>(n * sizeof(std::int64_t)));
  for (std::int64_t i = 0; i < n && report.consistent; ++i) {
    for (int r = 1; r < comm.size(); ++r) {
      if (all[r][i].item<std::int64_t>() != all[0][i].item<std::int64_t>()) {
        report.consistent = false;
        report.first_tensor = tensors[i].first;
        report.first_rank = r;
        break;
      }
    }
  }
  return report;
}

ConsistencyReport check_consistency(const torch::nn::Module& module, Communicator& comm) {
  return check_consistency(parameters_and_buffers(module), comm);
}

}  // namespace gantry::dist

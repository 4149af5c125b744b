#include "train/smoke_training.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "dist/communicator.h"
#include "dist/grad_sync.h"
#include "dist/replicas.h"

namespace gantry::train {
namespace {

struct SmokeNetImpl : torch::nn::Module {
  SmokeNetImpl()
      : c1(register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)))),
        c2(register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).stride(2).padding(1)))),
        c3(register_module("c3", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).stride(2).padding(1)))),
        fc(register_module("fc", torch::nn::Linear(64 * 4 * 4, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::leaky_relu(c1(x), 0.2);
    x = torch::leaky_relu(c2(x), 0.2);
    x = torch::leaky_relu(c3(x), 0.2);
    return fc(x.flatten(1));
  }
  torch::nn::Conv2d c1, c2, c3;
  torch::nn::Linear fc;
};
TORCH_MODULE(SmokeNet);

// The global batch of step t, identical on every rank: 16x16 images whose
// label is the argmax of 10 fixed random projections (learnable, not trivial).
std::pair<torch::Tensor, torch::Tensor> global_batch(std::uint64_t seed, int step, int batch,
                                                     const torch::Tensor& projections) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed * 1000003ULL + static_cast<std::uint64_t>(step));
  torch::Tensor x = at::randn({batch, 1, 16, 16}, gen);
  torch::Tensor y = x.flatten(1).matmul(projections).argmax(1);
  return {x, y};
}

}  // namespace

int run_smoke(dist::World& world, const SmokeOptions& o) {
  auto& comm = world.comm();
  const int n = world.size();
  if (o.steps < 1) throw std::invalid_argument("--steps must be >= 1");
  if (o.global_batch < n || o.global_batch % n != 0) {
    throw std::invalid_argument("--batch " + std::to_string(o.global_batch) + " must be a multiple of the world size " +
                                std::to_string(n));
  }
  const int local = o.global_batch / n;
  torch::manual_seed(o.seed + static_cast<std::uint64_t>(world.rank()) * 7919);  // deliberately different per rank...
  SmokeNet net;
  net->to(world.device());
  dist::broadcast_parameters(*net, comm);  // ...so that this broadcast is what makes replicas equal
  auto start_report = dist::check_consistency(*net, comm);
  if (!start_report.consistent) throw std::runtime_error("after broadcast: " + start_report.message());

  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const torch::Tensor projections = at::randn({256, 10}, gen);
  dist::GradSyncOptions so;
  so.overlap = o.overlap;
  so.bucket_cap_bytes = o.bucket_cap_kib * 1024;
  so.first_bucket_cap_bytes = std::min<std::size_t>(so.bucket_cap_bytes, std::size_t{1} << 20);
  dist::GradSync sync(*net, comm, so);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));

  if (world.is_root()) {
    std::printf("smoke: %d rank(s), device %s, global batch %d (%d per rank), %zu gradient bucket(s), overlap %s\n", n,
                world.device().str().c_str(), o.global_batch, local, sync.num_buckets(), o.overlap ? "on" : "off");
    std::fflush(stdout);
  }
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  double loss_value = 0, acc_value = 0;
  for (int step = 0; step < o.steps; ++step) {
    if (world.rank() == o.fault_rank && step == o.fault_step) {
      throw std::runtime_error("injected fault at step " + std::to_string(step));
    }
    if (world.rank() == o.stall_rank && step == o.stall_step) {
      std::this_thread::sleep_for(std::chrono::duration<double>(o.stall_seconds));
    }
    auto [x, y] = global_batch(o.seed, step, o.global_batch, projections);
    x = x.narrow(0, world.rank() * local, local).to(world.device());
    y = y.narrow(0, world.rank() * local, local).to(world.device());
    sync.begin();
    torch::Tensor logits = net->forward(x);
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    sync.finish();
    opt.step();
    if ((step + 1) % o.log_every == 0 || step + 1 == o.steps) {
      torch::Tensor stats = torch::stack({loss.detach(), (logits.argmax(1) == y).to(torch::kFloat).mean()}).cpu();
      comm.all_reduce(stats, dist::ReduceOp::kAverage);
      loss_value = stats[0].item<double>();
      acc_value = stats[1].item<double>();
      if (world.is_root()) {
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        std::printf("step %d  loss %.4f  acc %.3f  %.0f img/s\n", step + 1, loss_value, acc_value,
                    (step + 1) * o.global_batch / secs);
        std::fflush(stdout);
      }
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto report = dist::check_consistency(*net, comm);
  if (world.is_root()) {
    char json[512];
    std::snprintf(json, sizeof json,
                  "{\"world_size\": %d, \"steps\": %d, \"global_batch\": %d, \"loss\": %.6f, \"accuracy\": %.4f, "
                  "\"images_per_s\": %.1f, \"consistent\": %s, \"param_hash\": \"%016llx\"}",
                  n, o.steps, o.global_batch, loss_value, acc_value, o.steps * o.global_batch / secs,
                  report.consistent ? "true" : "false", static_cast<unsigned long long>(report.hash));
    std::printf("%s\n", json);
    if (!o.json_out.empty()) {
      std::ofstream(o.json_out) << json << "\n";
    }
  }
  if (!report.consistent) throw std::runtime_error(report.message());
  return 0;
}

}  // namespace gantry::train

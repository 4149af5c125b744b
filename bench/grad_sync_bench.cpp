// Gradient synchronisation benchmarks (JSON on stdout, rank 0):
//  1. fused GradSync bandwidth vs one raw MPI_Allreduce of the same total
//     bytes (alternating reps, medians), for parameter sets shaped like DCGAN (G+D, 64x64) and an
//     SNGAN ResNet-128 D;
//     (and the communicator's own all-reduce of one flat buffer: the backend
//     path without GradSync's packing);
//  2. step time of a small conv net: overlap on, overlap off, and the naive
//     per-parameter all-reduce after backward;
//  3. with --sweep: raw MPI_Allreduce time per message size (4 KiB..64 MiB),
//     what bench/scaling_model.py fits its α-β link model to;
//  4. with --contention: how much a rank's compute slows while all-reduces are in flight on the
//     communicator's thread (MPI busy-polls there, and on CPU hosts the transport's own work runs
//     on the same cores): scaling_model.py's progress share for that link.
// Run: launch/mpirun.sh -n 2 build/bench/bench_grad_sync [--reps N] [--sweep] [--contention] [--no-step]
//        [--bucket-cap-mb MiB]   (GradSync's bucket cap in part 1; default 25)
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/grad_sync.h"
#include "dist/world.h"

namespace {
using Clock = std::chrono::steady_clock;
using Shapes = std::vector<std::vector<std::int64_t>>;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// DCGAN 64x64 (Radford et al.): G 100->512->256->128->64->3 transposed convs with BN, D mirrored.
Shapes dcgan_shapes() {
  Shapes s = {{100, 512, 4, 4},
              {512},
              {512},
              {512, 256, 4, 4},
              {256},
              {256},
              {256, 128, 4, 4},
              {128},
              {128},
              {128, 64, 4, 4},
              {64},
              {64},
              {64, 3, 4, 4},
              {64, 3, 4, 4},
              {128, 64, 4, 4},
              {128},
              {128},
              {256, 128, 4, 4},
              {256},
              {256},
              {512, 256, 4, 4},
              {512},
              {512},
              {1, 512, 4, 4}};
  return s;
}

// SNGAN ResNet D for 128x128 (widths 64..1024): per block two 3x3 convs + 1x1 shortcut, biases.
Shapes resnet128_d_shapes() {
  Shapes s;
  const std::vector<std::int64_t> w = {3, 64, 128, 256, 512, 1024, 1024};
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    s.push_back({w[i + 1], w[i], 3, 3});
    s.push_back({w[i + 1]});
    s.push_back({w[i + 1], w[i + 1], 3, 3});
    s.push_back({w[i + 1]});
    s.push_back({w[i + 1], w[i], 1, 1});
    s.push_back({w[i + 1]});
  }
  s.push_back({1, 1024});
  s.push_back({1});
  return s;
}

std::string fused_vs_raw(const char* name, const Shapes& shapes, int reps, double bucket_cap_mib) {
  auto& world = gantry::dist::World::get();
  std::vector<std::pair<std::string, torch::Tensor>> params;
  std::int64_t numel = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    // .append, not "p" + std::to_string(i): GCC 12 warns falsely on that here (-Wrestrict, GCC bug 105651).
    params.emplace_back(std::string("p").append(std::to_string(i)), torch::randn(shapes[i]).requires_grad_(true));
    numel += params.back().second.numel();
  }
  gantry::dist::GradSyncOptions o;
  o.overlap = false;
  o.bucket_cap_bytes = static_cast<std::size_t>(bucket_cap_mib * (1 << 20));
  gantry::dist::GradSync sync(params, world.comm(), o);
  // Gradients made once: the timing covers the sync (pack, all-reduce, unpack), not their creation.
  std::vector<torch::Tensor> grads;
  for (auto& [n, p] : params) grads.push_back(torch::ones_like(p));
  auto run_sync = [&] {
    sync.begin();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].second.mutable_grad() = grads[i];
    sync.finish();
  };
  torch::Tensor flat = torch::ones({numel});
  auto raw_once = [&] {
    MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(numel), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  };
  auto comm_once = [&] { world.comm().all_reduce_async(flat, gantry::dist::ReduceOp::kSum)->wait(); };
  // The communicator's reduce buffer (shared memory when all ranks share a host): the reduce GradSync's buckets get.
  torch::Tensor shared_flat = world.comm().reduce_buffer(numel, torch::TensorOptions().dtype(torch::kFloat));
  shared_flat.fill_(1);
  auto shared_once = [&] { world.comm().all_reduce_async(shared_flat, gantry::dist::ReduceOp::kSum)->wait(); };
  // One warm-up each, then the three alternate rep by rep (each rep starts at a barrier);
  // medians, so that a slow moment of the machine hits all three alike.
  std::vector<double> fused_t, raw_t, comm_t, shared_t;
  auto timed = [&](auto&& fn, std::vector<double>& out) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = Clock::now();
    fn();
    out.push_back(seconds_since(t0));
  };
  run_sync();
  raw_once();
  comm_once();
  shared_once();
  for (int r = 0; r < reps; ++r) {
    timed(run_sync, fused_t);
    timed(raw_once, raw_t);
    timed(comm_once, comm_t);
    timed(shared_once, shared_t);
  }
  const double fused = median(fused_t), raw = median(raw_t), comm = median(comm_t), shared = median(shared_t);
  const double mib = numel * 4.0 / (1 << 20);
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "{\"params\": \"%s\", \"tensors\": %zu, \"MiB\": %.2f, \"bucket_cap_MiB\": %g, \"buckets\": %zu, "
                "\"fused_ms\": %.3f, "
                "\"raw_allreduce_ms\": %.3f, \"comm_allreduce_ms\": %.3f, \"reduce_buffer_allreduce_ms\": %.3f, "
                "\"shared_memory_reduce\": %s, \"fused_GiB_s\": %.3f, \"raw_GiB_s\": %.3f, \"fused_over_raw\": %.3f, "
                "\"fused_bandwidth_pct_of_raw\": %.1f, ",
                name, shapes.size(), mib, bucket_cap_mib, sync.num_buckets(), fused * 1e3, raw * 1e3, comm * 1e3,
                shared * 1e3, world.comm().shared_memory_reduce() ? "true" : "false", mib / 1024 / fused,
                mib / 1024 / raw, fused / raw, 100 * raw / fused);
  // Every rep, in order: a link's TCP dynamics can make the reps bimodal, which a median hides.
  auto list = [](const std::vector<double>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
      char num[32];
      std::snprintf(num, sizeof num, "%s%.3f", i ? ", " : "", v[i] * 1e3);
      out += num;
    }
    return out + "]";
  };
  return std::string(buf) + "\"reps_ms\": {\"fused\": " + list(fused_t) + ", \"raw\": " + list(raw_t) +
         ", \"comm\": " + list(comm_t) + ", \"reduce_buffer\": " + list(shared_t) + "}}";
}

struct ConvNetImpl : torch::nn::Module {
  ConvNetImpl() {
    const std::int64_t widths[] = {3, 64, 128, 128, 128};  // 32 -> 16 -> 8 -> 4 -> 2
    for (int i = 0; i < 4; ++i) {
      convs.push_back(register_module(
          std::string("c").append(std::to_string(i)),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(widths[i], widths[i + 1], 3).stride(2).padding(1))));
    }
    fc = register_module("fc", torch::nn::Linear(128 * 2 * 2, 1));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& c : convs) x = torch::leaky_relu(c(x), 0.2);
    return fc(x.flatten(1));
  }
  std::vector<torch::nn::Conv2d> convs;
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ConvNet);

std::string step_time(const char* mode, int reps) {
  auto& world = gantry::dist::World::get();
  torch::manual_seed(0);
  ConvNet net;
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-4));
  const bool naive = std::strcmp(mode, "naive_per_parameter") == 0;
  gantry::dist::GradSyncOptions o;
  o.overlap = std::strcmp(mode, "overlap_on") == 0;
  o.bucket_cap_bytes = 256 << 10;  // several buckets for this ~1 MiB model, so overlap has something to do
  o.first_bucket_cap_bytes = 64 << 10;
  gantry::dist::GradSync sync(*net, world.comm(), o);
  torch::Tensor x = torch::randn({16, 3, 32, 32});
  auto step = [&] {
    if (naive) {
      opt.zero_grad();
    } else {
      sync.begin();
    }
    net->forward(x).pow(2).mean().backward();
    if (naive) {
      for (auto& p : net->parameters()) {  // LibTorch's distributed example: one all-reduce per parameter
        torch::Tensor g = p.grad();
        world.comm().all_reduce(g, gantry::dist::ReduceOp::kAverage);
      }
    } else {
      sync.finish();
    }
    opt.step();
  };
  for (int i = 0; i < 3; ++i) step();
  world.comm().barrier();
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) step();
  const double t = seconds_since(t0) / reps;
  char buf[256];
  std::snprintf(buf, sizeof buf, "{\"mode\": \"%s\", \"buckets\": %zu, \"step_ms\": %.3f}", mode,
                naive ? net->parameters().size() : sync.num_buckets(), t * 1e3);
  return buf;
}

// Raw MPI_Allreduce (float sum, in place) per message size: each size repeated
// until ~0.2 s or `reps` times have passed (at least 3), after one warm-up.
std::string raw_sweep(int reps) {
  std::string rows;
  for (std::int64_t bytes = 4096; bytes <= (std::int64_t{64} << 20); bytes *= 4) {
    torch::Tensor flat = torch::ones({bytes / 4});
    auto once = [&] {
      MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(flat.numel()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    };
    once();
    MPI_Barrier(MPI_COMM_WORLD);
    int n = 0;
    const auto t0 = Clock::now();
    // Rank 0 decides when to stop so that every rank runs the same count.
    for (int go = 1; go; ++n) {
      once();
      go = n + 1 < 3 || (n + 1 < reps * 10 && seconds_since(t0) < 0.2);
      MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
    }
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s{\"bytes\": %lld, \"ms\": %.4f, \"reps\": %d}", rows.empty() ? "" : ",\n  ",
                  static_cast<long long>(bytes), seconds_since(t0) / n * 1e3, n);
    rows += buf;
  }
  return rows;
}

// Compute against communication on one rank, per message size S (16 MiB in 16/S all-reduces):
// alone, each job's time; together, the all-reduces run on the communicator's thread (as
// GradSync's overlapped buckets do during backward) while this thread computes, and the pair's
// time runs until both are done. The compute job (single-thread 256² matmuls: dense and
// cache-resident, like a conv's GEMM) is sized to 3× the communication alone, at least 20 ms.
// share = (together − compute alone) / communication alone: the time the overlapped
// communication still adds, per second of it (0: hidden completely; 1: no better than one after
// the other — e.g. when the transport's work needs the same core). scaling_model.py's P term.
// Alternating reps, medians; rank 0 sizes the compute job so that every rank runs the same.
std::string contention(int reps) {
  auto& world = gantry::dist::World::get();
  torch::Tensor a = torch::randn({256, 256}), b = torch::randn({256, 256}), c = torch::empty({256, 256});
  auto compute = [&](int iters) {
    for (int i = 0; i < iters; ++i) at::mm_out(c, a, b);
  };
  compute(50);  // warm-up
  const auto t_it = Clock::now();
  compute(200);
  double per_iter = seconds_since(t_it) / 200;
  MPI_Bcast(&per_iter, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  std::string rows;
  constexpr std::int64_t kTotal = std::int64_t{16} << 20;
  for (std::int64_t bytes : {std::int64_t{1} << 20, std::int64_t{4} << 20, std::int64_t{16} << 20}) {
    const int count = static_cast<int>(kTotal / bytes);
    std::vector<torch::Tensor> bufs;
    for (int i = 0; i < count; ++i) bufs.push_back(torch::ones({bytes / 4}));
    auto communicate = [&] {
      std::vector<gantry::dist::WorkPtr> works;
      for (auto& t : bufs) works.push_back(world.comm().all_reduce_async(t, gantry::dist::ReduceOp::kSum));
      return works;
    };
    auto wait_all = [](std::vector<gantry::dist::WorkPtr>& works) {
      for (auto& w : works) w->wait();
    };
    // Size the compute job from one communication alone (rank 0's time, for every rank).
    {
      auto w = communicate();
      wait_all(w);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t_c0 = Clock::now();
    {
      auto w = communicate();
      wait_all(w);
    }
    double comm_once = seconds_since(t_c0);
    MPI_Bcast(&comm_once, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    const int iters = static_cast<int>(std::max(3 * comm_once, 0.02) / per_iter) + 1;
    std::vector<double> alone_compute, alone_comm, together_compute, together;
    for (int r = 0; r < reps; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      auto t0 = Clock::now();
      compute(iters);
      alone_compute.push_back(seconds_since(t0));
      MPI_Barrier(MPI_COMM_WORLD);
      t0 = Clock::now();
      auto w = communicate();
      wait_all(w);
      alone_comm.push_back(seconds_since(t0));
      MPI_Barrier(MPI_COMM_WORLD);
      t0 = Clock::now();
      auto w2 = communicate();
      compute(iters);
      together_compute.push_back(seconds_since(t0));
      wait_all(w2);
      together.push_back(seconds_since(t0));
    }
    const double cc = median(alone_compute), ca = median(alone_comm), tc = median(together_compute),
                 ta = median(together);
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s{\"bytes\": %lld, \"messages\": %d, \"compute_alone_ms\": %.3f, \"comm_alone_ms\": %.3f, "
                  "\"compute_together_ms\": %.3f, \"together_ms\": %.3f, \"share\": %.3f}",
                  rows.empty() ? "" : ",\n  ", static_cast<long long>(bytes), count, cc * 1e3, ca * 1e3, tc * 1e3,
                  ta * 1e3, ca > 0 ? (ta - cc) / ca : 0.0);
    rows += buf;
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20;
  bool sweep = false, step = true, contend = false;
  double bucket_cap_mib = 25;  // GradSync's default (train.bucket_cap_mb)
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--sweep") == 0)
      sweep = true;
    else if (std::strcmp(argv[i], "--no-step") == 0)
      step = false;
    else if (std::strcmp(argv[i], "--contention") == 0)
      contend = true;
    else if (std::strcmp(argv[i], "--bucket-cap-mb") == 0 && i + 1 < argc) {
      char* end = nullptr;
      bucket_cap_mib = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(bucket_cap_mib > 0 && bucket_cap_mib <= 4096)) {
        std::fprintf(stderr, "bench_grad_sync: --bucket-cap-mb '%s' is not a number in (0, 4096]\n", argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "bench_grad_sync: unknown argument '%s' (--reps N, --sweep, --contention, --no-step, "
                   "--bucket-cap-mb MiB)\n",
                   argv[i]);
      return 2;
    }
  }
  auto& world = gantry::dist::World::init(&argc, &argv);
  std::vector<std::string> sync_rows = {fused_vs_raw("dcgan_64", dcgan_shapes(), reps, bucket_cap_mib),
                                        fused_vs_raw("sngan_resnet128_D", resnet128_d_shapes(), reps, bucket_cap_mib)};
  std::vector<std::string> step_rows;
  if (step)
    for (const char* mode : {"overlap_on", "overlap_off", "naive_per_parameter"})
      step_rows.push_back(step_time(mode, reps));
  const std::string sweep_rows = sweep ? raw_sweep(reps) : "";
  const std::string contention_rows = contend ? contention(reps) : "";
  if (world.is_root()) {
    std::printf("{\"benchmark\": \"grad_sync\", \"world_size\": %d, \"threads_per_rank\": %d, \"reps\": %d,\n",
                world.size(), at::get_num_threads(), reps);
    std::printf(" \"fused_vs_raw\": [\n  %s,\n  %s]", sync_rows[0].c_str(), sync_rows[1].c_str());
    if (step)
      std::printf(",\n \"step_time\": [\n  %s,\n  %s,\n  %s]", step_rows[0].c_str(), step_rows[1].c_str(),
                  step_rows[2].c_str());
    if (sweep) std::printf(",\n \"raw_sweep\": [\n  %s]", sweep_rows.c_str());
    if (contend) std::printf(",\n \"contention\": [\n  %s]", contention_rows.c_str());
    std::printf("}\n");
  }
  world.finalize();
  return 0;
}

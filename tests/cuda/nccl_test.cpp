// The NCCL backend at world size 1 (one GPU; NCCL cannot put two ranks on one
// device, so multi-rank logic stays tested on the MPI path): every collective
// and dtype ordered after the caller's stream, GradSync's bucket protocol over
// NCCL, synchronized BN over NCCL equal to the MPI path on CPU, and the abort
// path of a collective that outlives its timeout. Run under `mpirun -np 1`;
// every test skips when the world did not pick a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "dist/communicator.h"
#include "dist/error.h"
#include "dist/grad_sync.h"
#include "dist/test_util.h"
#include "models/sync_batch_norm.h"
#ifdef GANTRY_HAVE_NCCL
#include "dist/nccl_backend.h"
#endif

using gantry::test::world;

// GANTRY_CUDA_TESTS_ON_CPU=1 runs these tests' logic on the CPU world (MPI in
// place of NCCL): a check of the tests themselves where there is no GPU.
bool logic_check_on_cpu() {
  const char* v = std::getenv("GANTRY_CUDA_TESTS_ON_CPU");
  return v != nullptr && std::string(v) == "1";
}
#define REQUIRE_WORLD_GPU()                                      \
  if (!world().device().is_cuda() && !logic_check_on_cpu())      \
  GTEST_SKIP() << "the world runs on " << world().device().str() \
               << " (no CUDA GPU visible, or GANTRY_DEVICE=cpu): NCCL checks skipped"

namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kDouble) - b.to(torch::kCPU, torch::kDouble)).abs().max().item<double>();
}

// A tensor produced by a long chain of kernels on the current stream, so that a
// collective not ordered after them would read unfinished memory.
torch::Tensor slow_product(torch::ScalarType dtype) {
  const auto dev = world().device();
  auto a = torch::randn({2048, 2048}, torch::dtype(torch::kFloat).device(dev));
  for (int i = 0; i < 20; ++i) a = torch::tanh(a.mm(a) / 2048.0);
  return a.narrow(0, 0, 64).to(dtype);
}

}  // namespace

TEST(Nccl, WorldPicksItsGpu) {
  REQUIRE_WORLD_GPU();
  if (world().device().is_cuda()) {
    EXPECT_EQ(world().device().index(), world().local_rank());
  }
  EXPECT_EQ(world().size(), 1) << "NCCL tests are meant for one rank per GPU on one GPU";
}

TEST(Nccl, AllReduceBroadcastAndGatherEveryDtypeAfterTheProducerStream) {
  REQUIRE_WORLD_GPU();
  auto& comm = world().comm();
  for (auto dtype :
       {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16, torch::kLong, torch::kInt, torch::kByte}) {
    const std::string what = c10::toString(dtype);
    const bool floating = at::isFloatingType(dtype);
    torch::Tensor src = floating ? slow_product(dtype) : (slow_product(torch::kFloat) * 100).to(dtype);
    const torch::Tensor expect = src.cpu();  // synchronizes: the value the producer made
    // all_gather writes a new buffer: stale or unordered reads would show.
    torch::Tensor fresh = floating ? slow_product(dtype) : (slow_product(torch::kFloat) * 100).to(dtype);
    torch::Tensor gathered = comm.all_gather(fresh);
    EXPECT_EQ(max_abs_diff(gathered, fresh.cpu()), 0.0) << what << ": all_gather";
    // Sum and (floating) average of one rank are the identity; a non-contiguous view goes through a copy.
    comm.all_reduce(src, gantry::dist::ReduceOp::kSum);
    EXPECT_EQ(max_abs_diff(src, expect), 0.0) << what << ": all_reduce sum";
    if (floating) {
      torch::Tensor t = src.t();
      comm.all_reduce(t, gantry::dist::ReduceOp::kAverage);
      EXPECT_EQ(max_abs_diff(t, expect.t()), 0.0) << what << ": all_reduce average (non-contiguous)";
    }
    auto work = comm.all_reduce_async(src, gantry::dist::ReduceOp::kSum);
    work->wait();
    EXPECT_EQ(max_abs_diff(src, expect), 0.0) << what << ": all_reduce_async";
    comm.broadcast(src, 0);
    EXPECT_EQ(max_abs_diff(src, expect), 0.0) << what << ": broadcast";
  }
  // A CUDA tensor of an unsupported dtype is an error naming the op, not a crash.
  torch::Tensor b = torch::zeros({4}, torch::dtype(torch::kBool).device(world().device()));
  EXPECT_THROW(comm.all_reduce(b), gantry::dist::DistError);
}

TEST(Nccl, GradSyncBucketsOverNcclKeepTheLocalGradients) {
  REQUIRE_WORLD_GPU();
  const auto dev = world().device();
  for (bool overlap : {true, false})
    for (bool channels_last : {false, true}) {
      torch::manual_seed(3);
      torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 16, 3).padding(1)), torch::nn::Tanh(),
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 8, 3).padding(1)), torch::nn::Flatten(),
                                torch::nn::Linear(8 * 9 * 9, 1));
      net->to(dev);
      if (channels_last)
        for (auto& p : net->parameters())
          if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
      const auto x = torch::randn({5, 3, 9, 9}, dev);
      auto loss = [&] { return net->forward(x).pow(2).mean(); };
      loss().backward();
      std::vector<torch::Tensor> local;
      for (auto& p : net->parameters()) {
        local.push_back(p.grad().clone());
        p.mutable_grad().reset();
      }
      gantry::dist::GradSyncOptions o;
      o.overlap = overlap;
      o.bucket_cap_bytes = 4096;  // several buckets
      o.first_bucket_cap_bytes = 1024;
      o.buckets_on_one_rank = true;
      gantry::dist::GradSync sync(*net, world().comm(), o);
      ASSERT_GE(sync.num_buckets(), 2u);
      for (int rep = 0; rep < 2; ++rep) {
        sync.begin();
        loss().backward();
        sync.finish();
        auto params = net->parameters();
        for (size_t i = 0; i < params.size(); ++i) {
          ASSERT_TRUE(params[i].grad().defined());
          EXPECT_EQ(params[i].grad().device(), dev);
          // Average over one rank: the local gradient up to the 1/1 scaling.
          EXPECT_LE(max_abs_diff(params[i].grad(), local[i]), 1e-6)
              << "overlap " << overlap << " channels_last " << channels_last << " param " << i << " rep " << rep;
        }
      }
    }
}

TEST(Nccl, SyncBatchNormOverNcclEqualsTheMpiPathOnCpu) {
  REQUIRE_WORLD_GPU();
  const auto dev = world().device();
  torch::manual_seed(5);
  const auto x = torch::randn({6, 4, 5, 5}, torch::kDouble) * 3 + 1;
  const auto w = torch::rand({4}, torch::kDouble) + 0.5, b = torch::randn({4}, torch::kDouble);
  const auto upstream = torch::randn({6, 4, 5, 5}, torch::kDouble);
  struct Result {
    torch::Tensor y, gx, gw, gb, rm, rv;
  };
  auto run = [&](torch::Device d) {
    // Fresh leaves on d (to(kCPU) would return the shared tensor itself and mark it).
    auto leaf = [&](const torch::Tensor& t) { return t.detach().clone().to(d).requires_grad_(true); };
    auto xi = leaf(x), wi = leaf(w), bi = leaf(b);
    auto rm = torch::zeros({4}, torch::dtype(torch::kDouble).device(d));
    auto rv = torch::ones({4}, torch::dtype(torch::kDouble).device(d));
    gantry::models::SyncBatchNormArgs args;
    args.comm = &world().comm();  // CPU tensors: MPI; CUDA tensors: NCCL
    auto y = gantry::models::sync_batch_norm(xi, wi, bi, rm, rv, args);
    (y * upstream.to(d)).sum().backward();
    return Result{y.cpu(), xi.grad().cpu(), wi.grad().cpu(), bi.grad().cpu(), rm.cpu(), rv.cpu()};
  };
  const Result cpu = run(torch::kCPU), gpu = run(dev);
  EXPECT_LE(max_abs_diff(cpu.y, gpu.y), 1e-10);
  EXPECT_LE(max_abs_diff(cpu.gx, gpu.gx), 1e-10);
  EXPECT_LE(max_abs_diff(cpu.gw, gpu.gw), 1e-9);
  EXPECT_LE(max_abs_diff(cpu.gb, gpu.gb), 1e-9);
  EXPECT_LE(max_abs_diff(cpu.rm, gpu.rm), 1e-12);
  EXPECT_LE(max_abs_diff(cpu.rv, gpu.rv), 1e-12);
  // And both equal ATen's own batch norm (world size 1).
  auto rm = torch::zeros({4}, torch::kDouble), rv = torch::ones({4}, torch::kDouble);
  auto ref = at::batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5, false);
  EXPECT_LE(max_abs_diff(ref, gpu.y), 1e-10);
  EXPECT_LE(max_abs_diff(rv, gpu.rv), 1e-12);
}

#ifdef GANTRY_HAVE_NCCL
// Run alone (gpu_check.sh filters it out of the main run and gives it its own
// timeout): a collective queued behind seconds of work on the caller's stream
// outlives a 1 ms timeout; the wait must abort the communicator and throw, and
// the backend must refuse further work instead of hanging.
TEST(NcclAbort, TimedOutCollectiveAbortsAndLaterOnesAreRefused) {
  if (!world().device().is_cuda()) GTEST_SKIP() << "no CUDA GPU in the world: the NCCL abort path is not checked";
  gantry::dist::NcclBackend nccl(MPI_COMM_WORLD, world().device().index(), /*timeout_s=*/0.001);
  auto t = torch::ones({1024}, world().device());
  {
    auto a = torch::randn({4096, 4096}, world().device());
    for (int i = 0; i < 40; ++i) a = a.mm(a) / 4096.0;  // ~seconds on the current stream
    auto work = nccl.all_reduce(t, gantry::dist::ReduceOp::kSum);
    EXPECT_THROW(work->wait(), gantry::dist::DistError);
  }
  EXPECT_THROW(nccl.all_reduce(t, gantry::dist::ReduceOp::kSum), gantry::dist::DistError);
  torch::cuda::synchronize();
  nccl.shutdown();
}
#endif

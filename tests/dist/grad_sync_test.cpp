// GradSync: after finish(), every rank's gradients equal the average of all
// ranks' local gradients, computed here independently by gathering the
// local gradients of an unsynchronised backward.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "dist/communicator.h"
#include "dist/error.h"
#include "dist/grad_sync.h"
#include "dist/replicas.h"
#include "dist/test_util.h"

using gantry::dist::GradSync;
using gantry::dist::GradSyncOptions;
using gantry::test::world;

namespace {

// Odd sizes, a frozen layer, a layer no rank uses, and a head only rank 1 uses.
struct OddNetImpl : torch::nn::Module {
  OddNetImpl() {
    unused = register_module("unused", torch::nn::Linear(5, 3));  // registered first: packed last
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 7, 3).padding(1)));
    frozen = register_module("frozen", torch::nn::Linear(7 * 5 * 5, 13));
    frozen->weight.set_requires_grad(false);
    mid = register_module("mid", torch::nn::Linear(13, 301));
    head = register_module("head", torch::nn::Linear(301, 1));
    rank1_head = register_module("rank1_head", torch::nn::Linear(301, 1));
  }
  torch::Tensor forward(const torch::Tensor& x, bool use_rank1_head) {
    auto h = torch::tanh(conv(x)).flatten(1);
    h = torch::tanh(mid(torch::tanh(frozen(h))));
    auto out = head(h);
    if (use_rank1_head) out = out + rank1_head(h);
    return out;
  }
  torch::nn::Linear unused{nullptr}, frozen{nullptr}, mid{nullptr}, head{nullptr}, rank1_head{nullptr};
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(OddNet);

OddNet make_net() {
  torch::manual_seed(11);
  OddNet net;
  return net;
}

torch::Tensor local_input(int rank) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(100 + rank);
  return at::randn({4, 3, 5, 5}, gen);
}

// loss = mean(net(x)^2), optionally + a gradient penalty w.r.t. the input.
torch::Tensor loss_of(OddNet& net, int rank, bool penalty) {
  torch::Tensor x = local_input(rank).requires_grad_(penalty);
  torch::Tensor out = net->forward(x, rank == 1);
  torch::Tensor loss = out.pow(2).mean();
  if (penalty) {
    auto g = torch::autograd::grad({out.sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    loss = loss + 10 * (g.flatten(1).norm(2, 1) - 1).pow(2).mean();
  }
  return loss;
}

struct Expected {
  std::vector<torch::Tensor> grad;  // undefined where no rank had one
};

// Local backward without synchronisation, then gather every rank's grads and average.
Expected expected_average(OddNet& net, bool penalty) {
  auto& comm = world().comm();
  for (auto& p : net->parameters()) p.mutable_grad().reset();
  loss_of(net, comm.rank(), penalty).backward();
  Expected e;
  for (auto& p : net->parameters()) {
    torch::Tensor flag = torch::full({1}, p.grad().defined() ? 1.0 : 0.0);
    torch::Tensor g = p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()});
    torch::Tensor all = comm.all_gather(torch::cat({flag, g}).unsqueeze(0));  // [world, 1 + numel]
    if (all.select(1, 0).sum().item<double>() == 0) {
      e.grad.emplace_back();
    } else {
      e.grad.push_back(all.narrow(1, 1, p.numel()).sum(0).div(comm.size()).view_as(p));
    }
  }
  return e;
}

void check_synced(OddNet& net, const Expected& e, const std::string& what) {
  auto params = net->named_parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i].value();
    if (!p.requires_grad()) {
      EXPECT_FALSE(p.grad().defined()) << what << ": frozen " << params[i].key();
      continue;
    }
    ASSERT_EQ(p.grad().defined(), e.grad[i].defined()) << what << ": " << params[i].key();
    if (!e.grad[i].defined()) continue;
    const double err = (p.grad() - e.grad[i]).abs().max().item<double>();
    EXPECT_LE(err, 1e-6) << what << ": " << params[i].key();
  }
}

void run_case(bool overlap, bool penalty) {
  auto& comm = world().comm();
  OddNet net = make_net();
  GradSyncOptions o;
  o.overlap = overlap;
  o.bucket_cap_bytes = 2048;  // many buckets
  o.first_bucket_cap_bytes = 256;
  GradSync sync(*net, comm, o);
  ASSERT_GE(sync.num_buckets(), 5u);
  const Expected e = expected_average(net, penalty);
  for (int rep = 0; rep < 2; ++rep) {  // the second phase must reset state correctly
    sync.begin();
    loss_of(net, comm.rank(), penalty).backward();
    sync.finish();
    check_synced(net, e, std::string(overlap ? "overlap" : "no-overlap") + (penalty ? "+penalty" : ""));
  }
}

TEST(GradSync, AveragesLocalGradientsWithOverlap) { run_case(true, false); }
TEST(GradSync, AveragesLocalGradientsWithoutOverlap) { run_case(false, false); }
TEST(GradSync, DoubleBackwardPenaltyWithOverlap) { run_case(true, true); }
TEST(GradSync, DoubleBackwardPenaltyWithoutOverlap) { run_case(false, true); }

TEST(GradSync, UnusedAndPartlyUsedParameters) {
  auto& comm = world().comm();
  OddNet net = make_net();
  GradSync sync(*net, comm, GradSyncOptions{});
  sync.begin();
  loss_of(net, comm.rank(), false).backward();
  sync.finish();
  EXPECT_FALSE(net->unused->weight.grad().defined());  // no rank used it: no grad anywhere
  // Only rank 1 used rank1_head: every rank now has its grad (0 when world size is 1).
  EXPECT_EQ(net->rank1_head->weight.grad().defined(), comm.size() > 1);
}

TEST(GradSync, OverlapAndNoOverlapAreBitwiseIdentical) {
  auto& comm = world().comm();
  std::vector<std::vector<torch::Tensor>> grads;
  for (bool overlap : {true, false}) {
    OddNet net = make_net();
    GradSyncOptions o;
    o.overlap = overlap;
    o.bucket_cap_bytes = 4096;
    GradSync sync(*net, comm, o);
    sync.begin();
    loss_of(net, comm.rank(), true).backward();
    sync.finish();
    grads.emplace_back();
    for (auto& p : net->parameters()) grads.back().push_back(p.grad());
  }
  for (std::size_t i = 0; i < grads[0].size(); ++i) {
    ASSERT_EQ(grads[0][i].defined(), grads[1][i].defined());
    if (grads[0][i].defined()) {
      EXPECT_TRUE(grads[0][i].equal(grads[1][i])) << i;
    }
  }
}

TEST(GradSync, BucketsLaunchDuringBackward) {
  auto& comm = world().comm();
  torch::manual_seed(3);
  auto net = torch::nn::Sequential(torch::nn::Linear(16, 64), torch::nn::Tanh(), torch::nn::Linear(64, 64),
                                   torch::nn::Tanh(), torch::nn::Linear(64, 1));
  GradSyncOptions o;
  o.bucket_cap_bytes = 4096;
  o.first_bucket_cap_bytes = 512;
  GradSync sync(*net, comm, o);
  ASSERT_GE(sync.num_buckets(), 3u);
  // Reverse registration order: the output layer's bias leads the first bucket.
  EXPECT_EQ(sync.bucket_params(0).front(), "4.bias");
  sync.begin();
  net->forward(torch::randn({8, 16})).pow(2).mean().backward();
  sync.finish();
  // One rank has nothing to average: no bucket is filled or launched, autograd's gradients stay.
  EXPECT_EQ(sync.launched_in_backward(), comm.size() > 1 ? sync.num_buckets() : 0u);
}

TEST(GradSync, ChannelsLastParametersKeepTheirLayout) {
  // Gradients handed back as bucket views carry each parameter's strides: a channels_last
  // weight gets a channels_last gradient with the same values as the contiguous one.
  auto& comm = world().comm();
  torch::manual_seed(5);
  torch::nn::Conv2d a(torch::nn::Conv2dOptions(3, 4, 3)), b(torch::nn::Conv2dOptions(3, 4, 3));
  {
    torch::NoGradGuard ng;
    b->weight.copy_(a->weight);
    b->bias.copy_(a->bias);
    b->weight.set_data(b->weight.contiguous(at::MemoryFormat::ChannelsLast));
  }
  GradSync sa(*a, comm, GradSyncOptions{}), sb(*b, comm, GradSyncOptions{});
  const auto x = torch::randn({2, 3, 6, 6}) * (comm.rank() + 1);
  for (auto* s : {&sa, &sb}) s->begin();
  a(x).square().sum().backward();
  b(x.contiguous(at::MemoryFormat::ChannelsLast)).square().sum().backward();
  sa.finish();
  sb.finish();
  EXPECT_EQ(b->weight.grad().strides(), b->weight.strides());
  EXPECT_TRUE(torch::allclose(b->weight.grad(), a->weight.grad(), 1e-5, 1e-6));
}

TEST(GradSync, InterleavedDtypesInManyBucketsBothModes) {
  // float32 and float64 parameters alternate: two groups of buckets, each one buffer, whose
  // buckets without overlap go as one collective per group. Gradient of p_i is w_i(rank), so
  // the expected average is the mean of the ranks' w_i, computed here in double.
  auto& comm = world().comm();
  const std::vector<std::int64_t> sizes = {300, 17, 1000, 1, 257, 64, 999, 5};
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto dtype = i % 2 ? torch::kDouble : torch::kFloat;
    params.emplace_back("p" + std::to_string(i), torch::zeros({sizes[i]}, dtype).requires_grad_(true));
  }
  auto weight = [&](int rank, std::size_t i) {
    return gantry::test::rank_values(rank, sizes[i], params[i].second.scalar_type(), 40 + i, false);
  };
  std::vector<torch::Tensor> by_mode[2];
  for (bool overlap : {true, false}) {
    GradSyncOptions o;
    o.overlap = overlap;
    o.bucket_cap_bytes = 2000;  // several buckets per dtype
    o.first_bucket_cap_bytes = 256;
    GradSync sync(params, comm, o);
    ASSERT_GE(sync.num_buckets(), 4u);
    for (int rep = 0; rep < 2; ++rep) {
      sync.begin();
      torch::Tensor loss = torch::zeros({}, torch::kDouble);
      for (std::size_t i = 0; i < sizes.size(); ++i)
        loss = loss + (params[i].second * weight(comm.rank(), i)).sum().to(torch::kDouble);
      loss.backward();
      sync.finish();
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        torch::Tensor expected = torch::zeros({sizes[i]}, torch::kDouble);
        for (int r = 0; r < comm.size(); ++r) expected += weight(r, i).to(torch::kDouble);
        expected /= comm.size();
        const torch::Tensor& g = params[i].second.grad();
        ASSERT_TRUE(g.defined()) << params[i].first;
        EXPECT_EQ(g.scalar_type(), params[i].second.scalar_type());
        EXPECT_TRUE(torch::allclose(g.to(torch::kDouble), expected, 1e-6, 1e-6))
            << params[i].first << (overlap ? " overlap" : " no overlap");
      }
    }
    for (auto& [n, p] : params) by_mode[overlap].push_back(p.grad().clone());
  }
  // One host (or 2 ranks): merging the buckets does not change a bit.
  if (comm.shared_memory_reduce() || comm.size() <= 2) {
    for (std::size_t i = 0; i < sizes.size(); ++i) EXPECT_TRUE(by_mode[0][i].equal(by_mode[1][i])) << params[i].first;
  }
}

TEST(GradSync, SecondBackwardInOnePhaseIsAnError) {
  auto& comm = world().comm();
  torch::manual_seed(3);
  torch::nn::Linear lin(4, 1);
  GradSync sync(*lin, comm, GradSyncOptions{});
  sync.begin();
  auto x = torch::randn({2, 4});
  lin(x).sum().backward();
  EXPECT_THROW(lin(x).sum().backward(), std::exception);
  sync.finish();  // still completes the launched collectives on every rank
}

// Timing: a known stall in backward between two layers shows up between their
// buckets' ready times, and a rank whose backward is slower is exposed
// communication on the others (and blocked time for a synchronous collective).
TEST(GradSync, TimingSeesBackwardStallsAndLateRanks) {
  using namespace std::chrono_literals;
  auto& comm = world().comm();
  torch::manual_seed(3);
  auto first = torch::nn::Linear(32, 64), second = torch::nn::Linear(64, 64), out = torch::nn::Linear(64, 1);
  torch::nn::Sequential net(first, torch::nn::Tanh(), second, torch::nn::Tanh(), out);
  for (bool overlap : {true, false}) {
    GradSyncOptions o;
    o.overlap = overlap;
    o.timing = true;
    o.bucket_cap_bytes = 64 * 65 * 4;   // `second` fills a bucket; `first` starts the next
    o.first_bucket_cap_bytes = 65 * 4;  // `out` alone
    GradSync sync(*net, comm, o);
    ASSERT_EQ(sync.num_buckets(), 3u);
    ASSERT_EQ(sync.bucket_params(2).front(), "0.bias");
    sync.begin();
    const auto x = torch::randn({8, 32});
    auto h = torch::tanh(first(x));
    // Runs after `second`'s gradients, before `first`'s; rank 1's backward stalls 100 ms longer.
    const auto stall = comm.rank() == 1 ? 160ms : 60ms;
    h.register_hook([stall](const torch::Tensor& g) {
      std::this_thread::sleep_for(stall);
      return g;
    });
    const auto loss = out(torch::tanh(second(h))).pow(2).mean();
    sync.mark_backward_start();
    loss.backward();
    sync.finish();
    const auto& t = sync.timing();
    ASSERT_EQ(t.bucket_ready_s.size(), 3u);
    EXPECT_EQ(t.bucket_bytes[1], 64 * 65 * 4);
    for (std::size_t b = 0; b < 3; ++b) {
      ASSERT_TRUE(std::isfinite(t.bucket_ready_s[b])) << b;
      EXPECT_LE(t.bucket_ready_s[b], t.backward_s) << b;
      if (b > 0) {
        EXPECT_GE(t.bucket_ready_s[b], t.bucket_ready_s[b - 1]) << b;
      }
    }
    EXPECT_GE(t.bucket_ready_s[2] - t.bucket_ready_s[1], 0.055) << "overlap " << overlap;
    EXPECT_LT(t.bucket_ready_s[1], 0.055) << "overlap " << overlap;
    EXPECT_GE(t.backward_s, 0.055);
    EXPECT_GE(t.exposed_s, 0.0);
    if (comm.size() > 1 && comm.rank() == 0) {
      EXPECT_GE(t.exposed_s, 0.08) << "overlap " << overlap;
    }
    if (comm.size() > 1 && comm.rank() == 1) {
      EXPECT_LT(t.exposed_s, 0.08) << "overlap " << overlap;
    }
  }
  // A synchronous collective's wait counts as blocked time.
  const double before = comm.blocked_seconds();
  if (comm.rank() == 1) std::this_thread::sleep_for(100ms);
  auto v = torch::ones({4});
  comm.all_reduce(v);
  if (comm.size() > 1 && comm.rank() == 0) {
    EXPECT_GE(comm.blocked_seconds() - before, 0.08);
  }
  EXPECT_GE(comm.blocked_seconds(), before);
}

TEST(GradSync, TimingIsEmptyWhenOff) {
  auto& comm = world().comm();
  torch::nn::Linear lin(4, 1);
  GradSync sync(*lin, comm, GradSyncOptions{});
  sync.begin();
  sync.mark_backward_start();
  lin(torch::randn({2, 4})).sum().backward();
  sync.finish();
  EXPECT_TRUE(sync.timing().bucket_ready_s.empty());
  EXPECT_EQ(sync.timing().backward_s, 0.0);
}

}  // namespace

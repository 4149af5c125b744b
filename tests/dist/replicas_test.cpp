// broadcast_parameters makes replicas equal; check_consistency finds the
// first tensor and rank that differ.
#include <gtest/gtest.h>

#include "dist/replicas.h"
#include "dist/test_util.h"

using gantry::test::world;

namespace {

torch::nn::Sequential make_net() {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)), torch::nn::BatchNorm2d(8),
                               torch::nn::Flatten(), torch::nn::Linear(8 * 6 * 6, 3));
}

TEST(Replicas, BroadcastMakesParametersAndBuffersEqual) {
  auto& comm = world().comm();
  torch::manual_seed(1000 + comm.rank());  // different on every rank
  auto net = make_net();
  net->forward(torch::randn({4, 3, 8, 8}) * (comm.rank() + 1));  // BN running stats differ too
  if (comm.size() > 1) {
    EXPECT_FALSE(gantry::dist::check_consistency(*net, comm).consistent);
  }
  gantry::dist::broadcast_parameters(*net, comm);
  auto report = gantry::dist::check_consistency(*net, comm);
  EXPECT_TRUE(report.consistent) << report.message();
  // Independent check: rank 0's values, gathered, equal everyone's.
  for (const auto& [name, t] : gantry::dist::parameters_and_buffers(*net)) {
    torch::Tensor all = comm.all_gather(t.detach().reshape({1, -1}).to(torch::kDouble));
    for (int r = 1; r < comm.size(); ++r) EXPECT_TRUE(all[r].equal(all[0])) << name;
  }
}

TEST(Replicas, ConsistencyCheckNamesFirstDifferingTensorAndRank) {
  auto& comm = world().comm();
  torch::manual_seed(1);
  auto net = make_net();
  // The last rank perturbs one buffer: the running mean of the BN layer.
  if (comm.rank() == comm.size() - 1 && comm.size() > 1) {
    torch::NoGradGuard g;
    net[1]->as<torch::nn::BatchNorm2d>()->running_mean[2] += 1e-7f;
  }
  auto report = gantry::dist::check_consistency(*net, comm);
  if (comm.size() == 1) {
    EXPECT_TRUE(report.consistent);
  } else {
    EXPECT_FALSE(report.consistent);
    EXPECT_EQ(report.first_tensor, "1.running_mean");
    EXPECT_EQ(report.first_rank, comm.size() - 1);
  }
}

TEST(Replicas, TensorHashIgnoresStridesButNotValues) {
  torch::Tensor a = torch::arange(12, torch::kFloat).view({3, 4});
  EXPECT_EQ(gantry::dist::tensor_hash(a.t().contiguous().t()), gantry::dist::tensor_hash(a));
  torch::Tensor b = a.clone();
  b[1][1] = std::nextafter(5.0f, 6.0f);
  EXPECT_NE(gantry::dist::tensor_hash(a), gantry::dist::tensor_hash(b));
}

}  // namespace

// Collectives on every dtype and size, against values each rank computes on
// its own from the other ranks' (re-generated) inputs.
#include <gtest/gtest.h>

#include "dist/communicator.h"
#include "dist/error.h"
#include "dist/test_util.h"

using gantry::dist::ReduceOp;
using gantry::test::rank_values;
using gantry::test::world;

namespace {

const std::vector<torch::ScalarType> kDtypes = {torch::kFloat, torch::kDouble, torch::kBFloat16, torch::kHalf,
                                                torch::kLong};
// 0 and 1 element, odd sizes, and several MiB (3 Mi float32 = 12 MiB).
const std::vector<std::int64_t> kSizes = {0, 1, 7, 1000, 65537, 3 << 20};

std::string name(torch::ScalarType t, std::int64_t n) {
  return std::string(c10::toString(t)) + "[" + std::to_string(n) + "]";
}

double tolerance(torch::ScalarType t) {
  switch (t) {
    case torch::kHalf:
      return 1e-2;
    case torch::kBFloat16:
      return 5e-2;
    case torch::kFloat:
      return 1e-5;
    default:
      return 1e-12;
  }
}

TEST(Collectives, AllReduceSumExactOnSmallIntegers) {
  auto& comm = world().comm();
  for (auto dtype : kDtypes) {
    for (auto n : kSizes) {
      if (n > (1 << 16) && (dtype == torch::kHalf || dtype == torch::kBFloat16)) continue;  // covered below
      torch::Tensor t = rank_values(comm.rank(), n, dtype, 1, true);
      torch::Tensor expected = torch::zeros({n}, torch::kDouble);
      for (int r = 0; r < comm.size(); ++r) expected += rank_values(r, n, torch::kDouble, 1, true);
      comm.all_reduce(t, ReduceOp::kSum);
      EXPECT_EQ(t.scalar_type(), dtype);
      EXPECT_TRUE(t.to(torch::kDouble).equal(expected)) << name(dtype, n);
    }
  }
}

TEST(Collectives, AllReduceAverageOnRandomFloats) {
  auto& comm = world().comm();
  for (auto dtype : kDtypes) {
    if (dtype == torch::kLong) continue;
    for (auto n : kSizes) {
      torch::Tensor t = rank_values(comm.rank(), n, dtype, 2, false);
      torch::Tensor expected = torch::zeros({n}, torch::kDouble);
      for (int r = 0; r < comm.size(); ++r) expected += rank_values(r, n, dtype, 2, false).to(torch::kDouble);
      expected /= comm.size();
      comm.all_reduce(t, ReduceOp::kAverage);
      if (n > 0) {
        const double err = (t.to(torch::kDouble) - expected).abs().max().item<double>();
        EXPECT_LE(err, tolerance(dtype) * std::max(1.0, expected.abs().max().item<double>())) << name(dtype, n);
      }
    }
  }
}

TEST(Collectives, AllReduceResultIsBitwiseIdenticalOnAllRanks) {
  auto& comm = world().comm();
  torch::Tensor t = rank_values(comm.rank(), 100003, torch::kFloat, 3, false);
  comm.all_reduce(t, ReduceOp::kAverage);
  torch::Tensor from_root = t.clone();
  comm.broadcast(from_root, 0);
  EXPECT_TRUE(t.equal(from_root));
}

TEST(Collectives, AverageOfIntegersIsRefused) {
  auto& comm = world().comm();
  torch::Tensor t = torch::ones({3}, torch::kLong);
  EXPECT_THROW(comm.all_reduce(t, ReduceOp::kAverage), gantry::dist::DistError);
}

TEST(Collectives, NonContiguousAllReduce) {
  auto& comm = world().comm();
  torch::Tensor base = torch::arange(12, torch::kFloat).view({3, 4}) * (comm.rank() + 1);
  torch::Tensor view = base.t();  // non-contiguous
  comm.all_reduce(view, ReduceOp::kSum);
  const double factor = comm.size() * (comm.size() + 1) / 2.0;
  EXPECT_TRUE(base.equal(torch::arange(12, torch::kFloat).view({3, 4}) * factor));
}

TEST(Collectives, BroadcastFromEveryRoot) {
  auto& comm = world().comm();
  for (int root = 0; root < comm.size(); ++root) {
    for (auto dtype : kDtypes) {
      for (auto n : kSizes) {
        torch::Tensor t = rank_values(comm.rank(), n, dtype, 4, false);
        comm.broadcast(t, root);
        EXPECT_TRUE(t.equal(rank_values(root, n, dtype, 4, false))) << name(dtype, n) << " root " << root;
      }
    }
  }
}

TEST(Collectives, AllGatherWithUnequalRows) {
  auto& comm = world().comm();
  for (auto dtype : kDtypes) {
    for (std::int64_t cols : {1, 5}) {
      // Rank r contributes r % 3 rows: rank 0 none, the others differ.
      auto rows_of = [](int r) { return static_cast<std::int64_t>(r % 3); };
      torch::Tensor mine = rank_values(comm.rank(), rows_of(comm.rank()) * cols, dtype, 5, false).view({-1, cols});
      std::vector<std::int64_t> rows;
      torch::Tensor all = comm.all_gather(mine, &rows);
      std::vector<torch::Tensor> parts;
      for (int r = 0; r < comm.size(); ++r) {
        parts.push_back(rank_values(r, rows_of(r) * cols, dtype, 5, false).view({-1, cols}));
        EXPECT_EQ(rows[r], rows_of(r));
      }
      EXPECT_TRUE(all.equal(torch::cat(parts))) << c10::toString(dtype);
    }
  }
}

TEST(Collectives, AllGatherLargeTensor) {
  auto& comm = world().comm();
  torch::Tensor mine = rank_values(comm.rank(), 1 << 20, torch::kFloat, 6, false).view({1024, 1024});
  torch::Tensor all = comm.all_gather(mine);
  ASSERT_EQ(all.size(0), 1024 * comm.size());
  for (int r = 0; r < comm.size(); ++r) {
    EXPECT_TRUE(
        all.narrow(0, r * 1024, 1024).equal(rank_values(r, 1 << 20, torch::kFloat, 6, false).view({1024, 1024})));
  }
}

TEST(Collectives, AllGatherShapeMismatchIsAnError) {
  auto& comm = world().comm();
  if (comm.size() == 1) GTEST_SKIP() << "needs 2 ranks";
  torch::Tensor t = torch::zeros({2, comm.rank() == 1 ? 4 : 3});
  try {
    comm.all_gather(t);
    ADD_FAILURE() << "expected DistError";
  } catch (const gantry::dist::DistError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1"), std::string::npos) << e.what();
  }
}

TEST(Collectives, AsyncAllReducesCompleteInOrder) {
  auto& comm = world().comm();
  std::vector<torch::Tensor> ts;
  std::vector<gantry::dist::WorkPtr> works;
  for (int i = 0; i < 20; ++i) {
    ts.push_back(torch::full({1000 + i}, static_cast<float>(i + comm.rank())));
    works.push_back(comm.all_reduce_async(ts.back(), ReduceOp::kSum));
  }
  for (int i = 19; i >= 0; --i) works[i]->wait();  // waiting out of order is fine
  const double rank_sum = comm.size() * (comm.size() - 1) / 2.0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(ts[i].equal(torch::full({1000 + i}, static_cast<float>(i * comm.size() + rank_sum))));
  }
}

TEST(Collectives, BarrierAndUnsupportedDtype) {
  auto& comm = world().comm();
  comm.barrier();
  torch::Tensor b = torch::zeros({2}, torch::kBool);
  EXPECT_THROW(comm.all_reduce(b), gantry::dist::DistError);
}

}  // namespace

// Communicator::reduce_buffer and the shared-memory all-reduce (dist/shared_reduce.h):
// results against sums each rank recomputes from the other ranks' re-generated
// inputs, in rank order and bit for bit; reuse; interleaving; fallbacks; unmapping.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "dist/communicator.h"
#include "dist/error.h"
#include "dist/test_util.h"

using gantry::dist::ReduceOp;
using gantry::test::rank_values;
using gantry::test::world;

namespace {

// ((x0 + x1) + x2) + ... in `dtype`: the order the shared-memory reduce promises.
torch::Tensor rank_order_sum(std::int64_t n, torch::ScalarType dtype, std::uint64_t salt, int size) {
  torch::Tensor acc = rank_values(0, n, dtype, salt, false);
  for (int r = 1; r < size; ++r) acc = acc + rank_values(r, n, dtype, salt, false);
  return acc;
}

bool shared_memory_expected(int size) {
  const char* v = std::getenv("GANTRY_SHM_REDUCE");
  return size > 1 && !(v && std::string(v) == "0");  // ctest's ranks all run on this host
}

// Bit for bit in rank order on the shared-memory path; MPI (GANTRY_SHM_REDUCE=0) sums in its own order.
bool same_sum(const torch::Tensor& got, const torch::Tensor& rank_order, bool shared) {
  return shared ? got.equal(rank_order) : got.allclose(rank_order, 1e-5, 1e-6);
}

// Mappings of gantry's shared segments in this process (unlinked: "(deleted)").
int mapped_segments() {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) n += line.find("/gantry-") != std::string::npos;
  return n;
}

TEST(SharedReduce, UsedExactlyWhenAllRanksShareOneHost) {
  auto& comm = world().comm();
  EXPECT_EQ(comm.shared_memory_reduce(), shared_memory_expected(comm.size()));
}

TEST(SharedReduce, SumIsInRankOrderAndBitwiseEqualOnEveryRank) {
  auto& comm = world().comm();
  // Sizes around the cache-line-aligned slices (16 floats, 8 doubles), fewer
  // elements than ranks, and several MiB.
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (std::int64_t n : {0, 1, 3, 15, 16, 17, 1000, 65537, 3 << 20}) {
      torch::Tensor buf = comm.reduce_buffer(n, torch::TensorOptions().dtype(dtype));
      ASSERT_EQ(buf.numel(), n);
      ASSERT_EQ(buf.scalar_type(), dtype);
      EXPECT_TRUE(buf.eq(0).all().item<bool>()) << "not zero-filled";
      for (std::uint64_t salt = 1; salt <= 3; ++salt) {  // the same buffer, reduced again and again
        buf.copy_(rank_values(comm.rank(), n, dtype, salt, false));
        comm.all_reduce_async(buf)->wait();
        EXPECT_TRUE(same_sum(buf, rank_order_sum(n, dtype, salt, comm.size()), comm.shared_memory_reduce()))
            << c10::toString(dtype) << "[" << n << "] round " << salt;
      }
    }
  }
}

TEST(SharedReduce, InterleavedBuffersAndAverage) {
  auto& comm = world().comm();
  const std::int64_t na = 4099, nb = 70001;
  torch::Tensor a = comm.reduce_buffer(na, torch::TensorOptions().dtype(torch::kFloat));
  torch::Tensor b = comm.reduce_buffer(nb, torch::TensorOptions().dtype(torch::kDouble));
  for (int round = 0; round < 3; ++round) {
    a.copy_(rank_values(comm.rank(), na, torch::kFloat, 10 + round, false));
    b.copy_(rank_values(comm.rank(), nb, torch::kDouble, 20 + round, false));
    auto wa = comm.all_reduce_async(a, ReduceOp::kAverage);
    auto wb = comm.all_reduce_async(b, ReduceOp::kSum);
    wb->wait();
    wa->wait();
    const bool shared = comm.shared_memory_reduce();
    EXPECT_TRUE(same_sum(a, rank_order_sum(na, torch::kFloat, 10 + round, comm.size()).div_(comm.size()), shared));
    EXPECT_TRUE(same_sum(b, rank_order_sum(nb, torch::kDouble, 20 + round, comm.size()), shared));
  }
}

TEST(SharedReduce, PartsOfABufferAreReducedAloneAndHalfTypesGoThroughMpi) {
  auto& comm = world().comm();
  const std::int64_t n = 1000;
  torch::Tensor buf = comm.reduce_buffer(n, torch::TensorOptions().dtype(torch::kFloat));
  // GradSync's buckets are such parts: a head, and a part at an unaligned offset.
  for (auto [start, len] : {std::pair<std::int64_t, std::int64_t>{0, 600}, {37, 501}, {999, 1}}) {
    buf.copy_(rank_values(comm.rank(), n, torch::kFloat, 5, false));
    comm.all_reduce_async(buf.narrow(0, start, len))->wait();
    torch::Tensor mine = rank_values(comm.rank(), n, torch::kFloat, 5, false);
    EXPECT_TRUE(same_sum(buf.narrow(0, start, len),
                         rank_order_sum(n, torch::kFloat, 5, comm.size()).narrow(0, start, len),
                         comm.shared_memory_reduce()))
        << "part [" << start << ", " << start + len << ")";
    EXPECT_TRUE(buf.narrow(0, 0, start).equal(mine.narrow(0, 0, start))) << "before the part";
    EXPECT_TRUE(buf.narrow(0, start + len, n - start - len).equal(mine.narrow(0, start + len, n - start - len)))
        << "after the part";
  }
  torch::Tensor expected = torch::zeros({n}, torch::kDouble);

  // Half types are summed in float32 by the MPI path: a private buffer.
  torch::Tensor half = comm.reduce_buffer(n, torch::TensorOptions().dtype(torch::kBFloat16));
  half.copy_(rank_values(comm.rank(), n, torch::kBFloat16, 6, true));
  comm.all_reduce_async(half)->wait();
  expected.zero_();
  for (int r = 0; r < comm.size(); ++r) expected += rank_values(r, n, torch::kDouble, 6, true);
  EXPECT_TRUE(half.to(torch::kDouble).equal(expected));
}

TEST(SharedReduce, DifferentSizesOnDifferentRanksAreAnErrorEverywhere) {
  auto& comm = world().comm();
  if (!comm.shared_memory_reduce()) GTEST_SKIP() << "no shared-memory reduce (one rank or disabled)";
  EXPECT_THROW(comm.reduce_buffer(10 + (comm.rank() == 0), torch::TensorOptions().dtype(torch::kFloat)),
               gantry::dist::DistError);
  // The communicator is still usable (every rank threw at the same point).
  torch::Tensor t = torch::ones({3});
  comm.all_reduce(t);
  EXPECT_TRUE(t.eq(comm.size()).all().item<bool>());
}

TEST(SharedReduce, DroppedBuffersAreUnmapped) {
  auto& comm = world().comm();
  const int before = mapped_segments();
  {
    std::vector<torch::Tensor> bufs;
    for (int i = 0; i < 50; ++i)
      bufs.push_back(comm.reduce_buffer(100 + i, torch::TensorOptions().dtype(torch::kFloat)));
    EXPECT_EQ(mapped_segments(), before + (comm.shared_memory_reduce() ? 50 : 0));
    torch::Tensor view = bufs[7].narrow(0, 1, 5);  // a view keeps its segment mapped
    bufs.clear();
    EXPECT_EQ(mapped_segments(), before + (comm.shared_memory_reduce() ? 1 : 0));
  }
  EXPECT_EQ(mapped_segments(), before);
}

}  // namespace

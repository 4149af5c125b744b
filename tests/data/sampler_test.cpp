// The global-batch sampler: permutations, world-size-invariant batches,
// last-batch policies, exact resume on another world size.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/sampler.h"

using gantry::data::GlobalBatchSampler;
using gantry::data::LastBatch;
using gantry::data::SamplerState;
using gantry::data::Slot;

namespace {

std::vector<int64_t> images(const std::vector<Slot>& slots) {
  std::vector<int64_t> v;
  for (const auto& s : slots) v.push_back(s.image);
  return v;
}

}  // namespace

TEST(Sampler, PermutationIsAPermutationAndDependsOnSeedAndEpoch) {
  GlobalBatchSampler a(1000, 10, 7, LastBatch::kDrop), b(1000, 10, 8, LastBatch::kDrop);
  auto p0 = a.permutation(0);
  auto sorted = p0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(p0, a.permutation(1));
  EXPECT_NE(p0, b.permutation(0));
  EXPECT_EQ(p0, GlobalBatchSampler(1000, 10, 7, LastBatch::kDrop).permutation(0));
  // Not the identity or a rotation: a shuffled permutation has few fixed points.
  int64_t fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += p0[i] == i;
  EXPECT_LT(fixed, 10);
}

TEST(Sampler, RanksSplitTheGlobalBatchWhateverTheWorldSize) {
  const int64_t n = 103, batch = 12;  // 12 divisible by 1, 2, 3, 4
  GlobalBatchSampler s(n, batch, 42, LastBatch::kDrop);
  for (int world = 1; world <= 4; ++world) {
    SamplerState reference{};
    std::vector<SamplerState> rank_state(world);
    std::set<int64_t> seen_this_epoch;
    for (int step = 0; step < 3 * s.steps_per_epoch(); ++step) {
      const auto global = images(s.next_global(reference));
      std::vector<int64_t> joined;
      for (int r = 0; r < world; ++r) {
        const auto local = images(s.next_local(rank_state[r], r, world));
        ASSERT_EQ(static_cast<int64_t>(local.size()), batch / world);
        joined.insert(joined.end(), local.begin(), local.end());
      }
      ASSERT_EQ(joined, global) << "world " << world << " step " << step;
      for (int r = 1; r < world; ++r) ASSERT_EQ(rank_state[r], rank_state[0]);
      ASSERT_EQ(rank_state[0], reference);
      if (step % s.steps_per_epoch() == 0) seen_this_epoch.clear();
      for (auto i : global) ASSERT_TRUE(seen_this_epoch.insert(i).second) << "image " << i << " twice in an epoch";
    }
  }
}

TEST(Sampler, DropPolicySkipsTheShortTailAndStartsTheNextEpoch) {
  GlobalBatchSampler s(10, 4, 1, LastBatch::kDrop);
  SamplerState st{};
  const auto perm0 = s.permutation(0);
  const auto b0 = images(s.next_global(st));
  const auto b1 = images(s.next_global(st));
  EXPECT_EQ(b0, std::vector<int64_t>(perm0.begin(), perm0.begin() + 4));
  EXPECT_EQ(b1, std::vector<int64_t>(perm0.begin() + 4, perm0.begin() + 8));
  EXPECT_EQ(st, (SamplerState{0, 8}));
  EXPECT_EQ(s.batch_start(st), (SamplerState{1, 0}));
  const auto b2 = images(s.next_global(st));  // 2 left in epoch 0: dropped
  const auto perm1 = s.permutation(1);
  EXPECT_EQ(b2, std::vector<int64_t>(perm1.begin(), perm1.begin() + 4));
  EXPECT_EQ(st, (SamplerState{1, 4}));
}

TEST(Sampler, ContinuePolicySeesEveryImageExactlyOncePerEpoch) {
  const int64_t n = 10;
  GlobalBatchSampler s(n, 4, 3, LastBatch::kContinue);
  SamplerState st{};
  std::vector<int64_t> stream;
  for (int step = 0; step < 10; ++step) {
    const auto b = images(s.next_global(st));
    stream.insert(stream.end(), b.begin(), b.end());
  }
  for (int epoch = 0; epoch < 4; ++epoch) {
    std::vector<int64_t> e(stream.begin() + epoch * n, stream.begin() + (epoch + 1) * n);
    EXPECT_EQ(e, s.permutation(epoch)) << "epoch " << epoch;
  }
}

TEST(Sampler, ResumeContinuesExactlyAlsoOnAnotherWorldSize) {
  const int64_t n = 50, batch = 12;
  for (auto policy : {LastBatch::kDrop, LastBatch::kContinue}) {
    GlobalBatchSampler s(n, batch, 9, policy);
    SamplerState uninterrupted{};
    std::vector<std::vector<int64_t>> expected;
    for (int step = 0; step < 20; ++step) expected.push_back(images(s.next_global(uninterrupted)));
    for (int stop = 1; stop < 20; stop += 3) {
      // Train `stop` steps on 2 ranks, checkpoint the position, resume on 3 ranks.
      std::vector<SamplerState> st2(2);
      for (int step = 0; step < stop; ++step)
        for (int r = 0; r < 2; ++r) s.next_local(st2[r], r, 2);
      const SamplerState checkpoint = st2[0];
      GlobalBatchSampler resumed(n, batch, 9, policy);  // a fresh process
      std::vector<SamplerState> st3(3, checkpoint);
      for (int step = stop; step < 20; ++step) {
        std::vector<int64_t> joined;
        for (int r = 0; r < 3; ++r) {
          const auto local = images(resumed.next_local(st3[r], r, 3));
          joined.insert(joined.end(), local.begin(), local.end());
        }
        ASSERT_EQ(joined, expected[step]) << gantry::enum_name(policy) << " resumed at " << stop << ", step " << step;
      }
    }
  }
}

TEST(Sampler, AugmentationKeysFollowTheSlotNotTheRank) {
  GlobalBatchSampler s(40, 8, 5, LastBatch::kDrop);
  SamplerState g{}, a{}, b{};
  const auto global = s.next_global(g);
  const auto r0 = s.next_local(a, 0, 2), r1 = s.next_local(b, 1, 2);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r0[i].aug_key, global[i].aug_key);
    EXPECT_EQ(r1[i].aug_key, global[4 + i].aug_key);
  }
  std::set<uint64_t> keys;
  for (const auto& slot : global) keys.insert(slot.aug_key);
  EXPECT_EQ(keys.size(), global.size());
}

TEST(Sampler, RejectsImpossibleSettings) {
  EXPECT_THROW(GlobalBatchSampler(0, 1, 0, LastBatch::kDrop), std::invalid_argument);
  EXPECT_THROW(GlobalBatchSampler(10, 0, 0, LastBatch::kDrop), std::invalid_argument);
  EXPECT_THROW(GlobalBatchSampler(10, 11, 0, LastBatch::kDrop), std::invalid_argument);
  GlobalBatchSampler s(10, 4, 0, LastBatch::kDrop);
  SamplerState st{};
  EXPECT_THROW(s.next_local(st, 0, 3), std::invalid_argument);
  SamplerState bad{0, 11};
  EXPECT_THROW(s.next_global(bad), std::invalid_argument);
  EXPECT_THROW(gantry::parse_enum<LastBatch>("wrap"), std::invalid_argument);
  EXPECT_EQ(gantry::parse_enum<LastBatch>("continue"), LastBatch::kContinue);
}

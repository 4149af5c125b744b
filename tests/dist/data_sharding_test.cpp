// Real multi-rank reading: with W ranks each reading its share of the global
// batch from the same HDF5 file, the all_gathered batch is exactly the 1-rank
// batch (images, augmentation, order), every image appears once per epoch, and
// a position checkpointed on another world size resumes exactly.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "data/packers.h"
#include "data/prefetch_loader.h"
#include "dist/communicator.h"
#include "dist/test_util.h"

using namespace gantry::data;

namespace {

// A synthetic dataset written once by rank 0 into a directory every rank sees.
class SharedDataset {
 public:
  SharedDataset(int64_t count) {
    auto& w = gantry::test::world();
    char dir[256] = {0};
    if (w.rank() == 0) {
      std::string t = (std::filesystem::temp_directory_path() / "gantry-shard-XXXXXX").string();
      if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
      std::snprintf(dir, sizeof dir, "%s", t.c_str());
      SynthOptions o;
      o.output.out = std::string(dir) + "/d.h5";
      o.output.progress = false;
      o.channels = 3;
      o.height = 8;
      o.width = 8;
      o.count = count;
      o.seed = 5;
      o.threads = 1;
      synth_dataset(o);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, w.comm().mpi_comm());
    dir_ = dir;
  }
  ~SharedDataset() {
    gantry::test::world().comm().barrier();
    if (gantry::test::world().rank() == 0) std::filesystem::remove_all(dir_);
  }
  std::string path() const { return dir_ + "/d.h5"; }

 private:
  std::string dir_;
};

LoaderOptions loader_options(const std::string& path, int rank, int world) {
  LoaderOptions o;
  o.path = path;
  o.global_batch = 12;  // divisible by 1..4
  o.seed = 17;
  o.rank = rank;
  o.world = world;
  o.augment.hflip = true;
  o.augment.max_shift = 2;
  o.open.file_locking = false;  // several ranks open the same file read-only
  return o;
}

}  // namespace

TEST(DataSharding, GatheredRankBatchesEqualTheOneRankBatch) {
  auto& w = gantry::test::world();
  SharedDataset data(48);  // 4 steps per epoch
  PrefetchLoader mine(loader_options(data.path(), w.rank(), w.size()));
  PrefetchLoader whole(loader_options(data.path(), 0, 1));  // what 1 rank would read
  ASSERT_EQ(mine.local_batch(), 12 / w.size());
  std::set<int64_t> epoch_images;
  for (int step = 0; step < 8; ++step) {
    const auto b = mine.next();
    const auto ref = whole.next();
    const auto images = w.comm().all_gather(b.images.contiguous());
    const auto indices = w.comm().all_gather(b.indices.contiguous());
    ASSERT_TRUE(torch::equal(images, ref.images)) << "step " << step;
    ASSERT_TRUE(torch::equal(indices, ref.indices)) << "step " << step;
    EXPECT_EQ(b.next, ref.next);
    if (step % 4 == 0) epoch_images.clear();
    for (int64_t i = 0; i < indices.size(0); ++i)
      ASSERT_TRUE(epoch_images.insert(indices[i].item<int64_t>()).second) << "image seen twice in an epoch";
    if (step % 4 == 3) {
      EXPECT_EQ(epoch_images.size(), 48u);
    }
  }
}

TEST(DataSharding, ResumesFromAPositionCheckpointedOnAnotherWorldSize) {
  auto& w = gantry::test::world();
  SharedDataset data(30);  // 2 full steps per epoch, 6 images dropped
  // The "previous job": 5 steps on a different world size (1, or 2 when this job has 1 rank).
  const int old_world = w.size() == 1 ? 2 : 1;
  SamplerState checkpoint;
  {
    std::vector<std::unique_ptr<PrefetchLoader>> old;
    for (int r = 0; r < old_world; ++r)
      old.push_back(std::make_unique<PrefetchLoader>(loader_options(data.path(), r, old_world)));
    for (int step = 0; step < 5; ++step)
      for (auto& l : old) l->next();
    checkpoint = old[0]->state();
    for (auto& l : old) ASSERT_EQ(l->state(), checkpoint);
  }
  PrefetchLoader uninterrupted(loader_options(data.path(), 0, 1));
  for (int step = 0; step < 5; ++step) uninterrupted.next();
  auto o = loader_options(data.path(), w.rank(), w.size());
  o.start = checkpoint;
  PrefetchLoader resumed(o);
  for (int step = 5; step < 11; ++step) {
    const auto images = w.comm().all_gather(resumed.next().images.contiguous());
    ASSERT_TRUE(torch::equal(images, uninterrupted.next().images)) << "step " << step;
  }
}

// The prefetch loader: exact pixels and order, augmentation against torch ops,
// resume, in-memory mode, thread counts, and read errors surfacing in next().
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "data/augment.h"
#include "data/data_error.h"
#include "data/h5_image_file.h"
#include "data/packers.h"
#include "data/prefetch_loader.h"
#include "data_test_util.h"

using namespace gantry::data;
using gantry::test::TempDir;

namespace {

void write_synth(const std::string& path, int64_t n, int64_t c, int64_t h, int64_t w) {
  SynthOptions o;
  o.output.out = path;
  o.output.progress = false;
  o.output.images_per_chunk = 1;
  o.channels = c;
  o.height = h;
  o.width = w;
  o.count = n;
  o.seed = 11;
  synth_dataset(o);
}

// Image i of the file as float in [-1, 1], computed with torch from the raw bytes.
torch::Tensor reference_image(H5ImageFile& f, int64_t i) {
  const auto& info = f.info();
  auto raw = torch::empty({info.channels, info.height, info.width}, torch::kUInt8);
  f.read_image(i, raw.data_ptr<uint8_t>());
  return (raw.to(torch::kDouble) / 127.5 - 1).to(torch::kFloat);  // x/127.5 - 1 rounded once
}

LoaderOptions options(const std::string& path, int64_t batch) {
  LoaderOptions o;
  o.path = path;
  o.global_batch = batch;
  o.seed = 3;
  return o;
}

}  // namespace

TEST(Loader, ReturnsTheSamplersImagesExactly) {
  TempDir d;
  write_synth(d.file("s.h5"), 30, 3, 8, 6);
  H5ImageFile f(d.file("s.h5"));
  auto o = options(d.file("s.h5"), 8);
  PrefetchLoader loader(o);
  GlobalBatchSampler sampler(30, 8, 3, LastBatch::kDrop);
  SamplerState st{};
  for (int step = 0; step < 10; ++step) {  // 3 steps per epoch: crosses epochs
    const int64_t epoch = sampler.batch_start(st).epoch;
    const auto slots = sampler.next_global(st);
    const auto b = loader.next();
    ASSERT_EQ(b.images.sizes(), (torch::IntArrayRef{8, 3, 8, 6}));
    EXPECT_EQ(b.epoch, epoch);
    EXPECT_EQ(b.next, st);
    EXPECT_EQ(loader.state(), st);
    for (int i = 0; i < 8; ++i) {
      ASSERT_EQ(b.indices[i].item<int64_t>(), slots[i].image);
      ASSERT_TRUE(torch::equal(b.images[i], reference_image(f, slots[i].image))) << "step " << step << " slot " << i;
    }
  }
}

TEST(Loader, AugmentationMatchesTorchFlipPadCrop) {
  TempDir d;
  write_synth(d.file("s.h5"), 40, 3, 12, 10);
  H5ImageFile f(d.file("s.h5"));
  auto o = options(d.file("s.h5"), 20);
  o.augment.hflip = true;
  o.augment.max_shift = 3;
  PrefetchLoader loader(o);
  GlobalBatchSampler sampler(40, 20, 3, LastBatch::kDrop);
  SamplerState st{};
  int flips = 0, shifted = 0, total = 0;
  std::set<int> dxs;
  namespace F = torch::nn::functional;
  for (int step = 0; step < 6; ++step) {
    const auto slots = sampler.next_global(st);
    const auto b = loader.next();
    for (int i = 0; i < 20; ++i) {
      const auto draw = draw_augment(o.augment, slots[i].aug_key);
      auto x = reference_image(f, slots[i].image);
      if (draw.flip) x = torch::flip(x, {2});
      const int s = o.augment.max_shift;
      auto padded = F::pad(x.unsqueeze(0), F::PadFuncOptions({s, s, s, s}).mode(torch::kReflect)).squeeze(0);
      auto want = padded.narrow(1, s - draw.dy, 12).narrow(2, s - draw.dx, 10);
      ASSERT_TRUE(torch::equal(b.images[i], want)) << "step " << step << " slot " << i;
      ASSERT_LE(std::abs(draw.dx), s);
      ASSERT_LE(std::abs(draw.dy), s);
      flips += draw.flip;
      shifted += draw.dx != 0 || draw.dy != 0;
      dxs.insert(draw.dx);
      ++total;
    }
  }
  // 120 draws: flips near one half, every shift value used.
  EXPECT_GT(flips, 35);
  EXPECT_LT(flips, 85);
  EXPECT_GT(shifted, 90);
  EXPECT_EQ(dxs.size(), 7u);
}

TEST(Loader, ResumesExactlyAndMatchesAcrossModesAndThreads) {
  TempDir d;
  write_synth(d.file("s.h5"), 25, 1, 5, 5);
  auto o = options(d.file("s.h5"), 6);
  o.augment.hflip = true;
  o.augment.max_shift = 1;
  o.last_batch = LastBatch::kContinue;
  std::vector<Batch> reference;
  {
    PrefetchLoader loader(o);
    for (int i = 0; i < 12; ++i) reference.push_back(loader.next());
  }
  // Resume after 5 batches, from the state a checkpoint would hold.
  auto r = o;
  r.start = reference[4].next;
  r.prefetch = 1;
  r.decode_threads = 3;
  {
    PrefetchLoader resumed(r);
    for (int i = 5; i < 12; ++i) {
      const auto b = resumed.next();
      ASSERT_TRUE(torch::equal(b.images, reference[i].images)) << "batch " << i;
      ASSERT_TRUE(torch::equal(b.indices, reference[i].indices));
    }
  }
  // In-memory mode gives the same stream.
  auto m = o;
  m.in_memory = true;
  m.decode_threads = 2;
  PrefetchLoader mem(m);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(torch::equal(mem.next().images, reference[i].images)) << "batch " << i;
}

TEST(Loader, RanksTakeContiguousSlicesOfTheGlobalBatch) {
  TempDir d;
  write_synth(d.file("s.h5"), 50, 3, 4, 4);
  auto o = options(d.file("s.h5"), 12);
  o.augment.hflip = true;
  PrefetchLoader one(o);
  std::vector<std::unique_ptr<PrefetchLoader>> ranks;
  for (int r = 0; r < 3; ++r) {
    auto ro = o;
    ro.rank = r;
    ro.world = 3;
    ranks.push_back(std::make_unique<PrefetchLoader>(ro));
  }
  for (int step = 0; step < 8; ++step) {
    const auto g = one.next();
    std::vector<torch::Tensor> parts;
    for (auto& l : ranks) parts.push_back(l->next().images);
    ASSERT_TRUE(torch::equal(torch::cat(parts), g.images)) << "step " << step;
  }
}

TEST(Loader, LabelsFollowTheirImages) {
  TempDir d;
  const std::string p = d.file("l.h5");
  {
    std::vector<uint8_t> px(20);
    std::vector<int64_t> labels(20);
    for (int i = 0; i < 20; ++i) px[i] = static_cast<uint8_t>(i), labels[i] = 100 + i;
    gantry::test::write_raw_h5(p, "images", H5T_NATIVE_UINT8, {20, 1, 1, 1}, px.data());
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hsize_t n = 20;
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t ds = H5Dcreate2(f, "labels", H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data());
    H5Dclose(ds);
    H5Sclose(s);
    H5Fclose(f);
  }
  PrefetchLoader loader(options(p, 5));
  for (int step = 0; step < 6; ++step) {
    const auto b = loader.next();
    ASSERT_TRUE(b.labels.defined());
    ASSERT_TRUE(torch::equal(b.labels, b.indices + 100));
    ASSERT_TRUE(torch::allclose(b.images.flatten(), b.indices.to(torch::kFloat) / 127.5 - 1));
  }
}

TEST(Loader, ReadErrorsSurfaceInNextWithTheFileName) {
  // A gzip dataset whose compressed chunks are damaged past the header: the
  // file opens, and the first read of a damaged chunk fails in the I/O thread.
  TempDir d;
  const std::string p = d.file("s.h5");
  SynthOptions so;
  so.output.out = p;
  so.output.progress = false;
  so.output.gzip_level = 4;
  so.channels = 3;
  so.height = so.width = 32;
  so.count = 200;
  synth_dataset(so);
  const auto size = std::filesystem::file_size(p);
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    for (auto at : {size / 4, size / 2, 3 * size / 4}) {
      f.seekp(static_cast<std::streamoff>(at));
      const std::string junk(2048, '\x5a');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto o = options(p, 50);
  o.open.file_locking = false;
  PrefetchLoader loader(o);
  try {
    for (int i = 0; i < 8; ++i) loader.next();  // two epochs: every image read
    ADD_FAILURE() << "no error from a damaged file";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(p + ": reading images", 0), 0u) << e.what();
  }
}

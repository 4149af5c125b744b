// idx → HDF5 → reader returns exactly the source pixels and labels (small
// generated idx files, gzipped and plain, and the real Fashion-MNIST test set).
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <iterator>

#include "data/data_error.h"
#include "data/h5_image_file.h"
#include "data/idx_file.h"
#include "data/packers.h"
#include "data_test_util.h"

using namespace gantry::data;
using gantry::test::TempDir;

namespace {

// An idx file written independently of the reader: big-endian header then bytes.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data, bool gz) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<uint8_t>(d >> s));
  bytes.insert(bytes.end(), data.begin(), data.end());
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

PackIdxOptions idx_options(const std::string& images, const std::string& labels, const std::string& out) {
  PackIdxOptions o;
  o.images = images;
  o.labels = labels;
  o.output.out = out;
  o.output.progress = false;
  o.output.command = "test";
  return o;
}

}  // namespace

TEST(IdxRoundTrip, GeneratedFilesComeBackByteExact) {
  TempDir dir;
  const uint32_t n = 37, h = 5, w = 7;
  std::vector<uint8_t> pixels(n * h * w), labels(n);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 131 + 7) % 256);
  for (size_t i = 0; i < n; ++i) labels[i] = static_cast<uint8_t>(i % 10);
  for (bool gz : {false, true}) {
    for (int chunk : {1, 8}) {
      const std::string tag = std::string(gz ? "gz" : "raw") + std::to_string(chunk);
      write_idx(dir.file(tag + "-img"), {n, h, w}, pixels, gz);
      write_idx(dir.file(tag + "-lbl"), {n}, labels, gz);
      auto o = idx_options(dir.file(tag + "-img"), dir.file(tag + "-lbl"), dir.file(tag + ".h5"));
      o.output.images_per_chunk = chunk;
      o.output.gzip_level = chunk == 8 ? 4 : 0;
      const auto r = pack_idx(o);
      EXPECT_EQ(r.info.count, n);
      H5ImageFile f(dir.file(tag + ".h5"));
      EXPECT_EQ(f.info().channels, 1);
      EXPECT_EQ(f.info().height, h);
      EXPECT_EQ(f.info().width, w);
      EXPECT_EQ(f.info().format_version, kFormatVersion);
      EXPECT_EQ(f.info().images_per_chunk, chunk);
      EXPECT_EQ(f.info().gzip_level, chunk == 8 ? 4 : -1);
      EXPECT_EQ(f.info().creation_command, "test");
      std::vector<uint8_t> back(pixels.size());
      f.read_range(0, n, back.data());
      EXPECT_EQ(back, pixels) << tag;
      std::vector<uint8_t> one(h * w);
      f.read_image(11, one.data());
      EXPECT_TRUE(std::equal(one.begin(), one.end(), pixels.begin() + 11 * h * w));
      ASSERT_EQ(f.labels().size(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(f.labels()[i], labels[i]);
    }
  }
}

TEST(IdxRoundTrip, RealFashionMnistTestSet) {
  const std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  const std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(images)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  pack_idx(idx_options(images, labels, dir.file("fm.h5")));
  // Independent parse: the gzip stream read with zlib, the 16-byte header skipped.
  gzFile g = gzopen(images.c_str(), "rb");
  std::vector<uint8_t> raw(16 + 10000 * 28 * 28);
  ASSERT_EQ(gzread(g, raw.data(), static_cast<unsigned>(raw.size())), static_cast<int>(raw.size()));
  gzclose(g);
  H5ImageFile f(dir.file("fm.h5"));
  ASSERT_EQ(f.info().count, 10000);
  std::vector<uint8_t> back(10000 * 28 * 28);
  f.read_range(0, 10000, back.data());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), raw.begin() + 16));
  gzFile gl = gzopen(labels.c_str(), "rb");
  std::vector<uint8_t> lraw(8 + 10000);
  gzread(gl, lraw.data(), static_cast<unsigned>(lraw.size()));
  gzclose(gl);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(f.labels()[i], lraw[8 + i]);
}

TEST(IdxRoundTrip, BadIdxFilesNameTheFileAndTheProblem) {
  TempDir dir;
  auto expect = [&](const std::string& path, const std::string& labels, const std::string& needle) {
    try {
      pack_idx(idx_options(path, labels, dir.file("x.h5")));
      ADD_FAILURE() << "no error for " << path;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));
  };
  expect(dir.file("missing"), "", "missing: no such file");
  std::ofstream(dir.file("text")) << "hello world, not idx";
  expect(dir.file("text"), "", "text: not an idx file");
  std::vector<uint8_t> px(4 * 2 * 2, 1);
  write_idx(dir.file("short"), {5, 2, 2}, px, true);  // declares 5 images, holds 4
  expect(dir.file("short"), "", "short: truncated");
  write_idx(dir.file("huge"), {8192, 8192, 8192}, px, true);  // declares 512 GiB in a 40-byte file
  expect(dir.file("huge"), "", "huge: truncated");
  write_idx(dir.file("img"), {4, 2, 2}, px, false);
  write_idx(dir.file("lbl3"), {3}, {0, 1, 2}, false);
  expect(dir.file("img"), dir.file("lbl3"), "3 labels for 4 images");
  write_idx(dir.file("vec"), {16}, px, false);
  expect(dir.file("vec"), "", "expected an idx3 image file");
}

// A gzipped idx carries a CRC-32 and the length of its data: a flipped bit
// anywhere either is refused or sits where no data is held (gzip header fields:
// the flags' text bit, modification time, extra flags, OS; a stored deflate
// block's padding bits), and the images read back unchanged.
TEST(IdxRoundTrip, EveryFlippedBitOfAGzippedIdxIsFoundOrHarmless) {
  TempDir dir;
  std::vector<uint8_t> px(6 * 5 * 5);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 37 + 11);
  write_idx(dir.file("i.gz"), {6, 5, 5}, px, true);
  std::ifstream in(dir.file("i.gz"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int refused = 0;
  for (size_t at = 0; at < bytes.size(); ++at)
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit));
      std::ofstream(dir.file("d.gz"), std::ios::binary | std::ios::trunc) << damaged;
      try {
        const IdxArray a = read_idx(dir.file("d.gz"));
        EXPECT_EQ(a.data, px) << "flip of bit " << bit << " at byte " << at << " changed the images";
      } catch (const DataError& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        ++refused;
      }
    }
  EXPECT_GE(refused, static_cast<int>(8 * bytes.size()) - 64) << "of " << 8 * bytes.size();
}

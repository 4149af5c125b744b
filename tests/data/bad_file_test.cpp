// Every bad dataset file gives one DataError naming the file and the problem,
// from H5ImageFile and from the prefetch loader (whose I/O thread opens it).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <random>
#include <tuple>

#include "data/data_error.h"
#include "data/dataset_writer.h"
#include "data/h5_crash_guard.h"
#include "data/h5_image_file.h"
#include "data/packers.h"
#include "data/prefetch_loader.h"
#include "data_test_util.h"

using namespace gantry::data;
using gantry::test::TempDir;
using gantry::test::write_raw_h5;

namespace {

std::string open_error(const std::string& path, const OpenOptions& o = {}) {
  try {
    H5ImageFile f(path, o);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

void write_synth(const std::string& path, int64_t n) {
  SynthOptions o;
  o.output.out = path;
  o.output.progress = false;
  o.channels = 3;
  o.height = o.width = 16;
  o.count = n;
  synth_dataset(o);
}

void expect_error(const std::string& path, const std::string& problem) {
  const std::string msg = open_error(path);
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << "message does not start with the file name: " << msg;
  EXPECT_NE(msg.find(problem), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
}

}  // namespace

TEST(BadFiles, Missing) {
  TempDir d;
  expect_error(d.file("nope.h5"), "no such file");
}

TEST(BadFiles, Directory) {
  TempDir d;
  expect_error(d.path().string(), "is a directory");
}

TEST(BadFiles, NotHdf5) {
  TempDir d;
  std::ofstream(d.file("x.h5")) << "this is a text file\n";
  expect_error(d.file("x.h5"), "not an HDF5 file");
}

TEST(BadFiles, Truncated) {
  TempDir d;
  write_synth(d.file("t.h5"), 50);
  std::filesystem::resize_file(d.file("t.h5"), std::filesystem::file_size(d.file("t.h5")) / 2);
  expect_error(d.file("t.h5"), "truncated");
}

TEST(BadFiles, WrongDatasetName) {
  TempDir d;
  write_raw_h5(d.file("n.h5"), "pixels", H5T_NATIVE_UINT8, {2, 1, 4, 4});
  expect_error(d.file("n.h5"), "has no dataset 'images'");
  OpenOptions o;
  o.dataset = "pixels";
  EXPECT_EQ(open_error(d.file("n.h5"), o), "");  // the name is an option
}

TEST(BadFiles, WrongDtype) {
  TempDir d;
  write_raw_h5(d.file("f.h5"), "images", H5T_NATIVE_FLOAT, {2, 1, 4, 4});
  expect_error(d.file("f.h5"), "holds float32, expected uint8");
  write_raw_h5(d.file("i.h5"), "images", H5T_NATIVE_INT16, {2, 1, 4, 4});
  expect_error(d.file("i.h5"), "holds int16, expected uint8");
}

TEST(BadFiles, WrongRank) {
  TempDir d;
  write_raw_h5(d.file("r.h5"), "images", H5T_NATIVE_UINT8, {2, 4, 4});
  expect_error(d.file("r.h5"), "has rank 3 (shape 2x4x4), expected 4");
  write_raw_h5(d.file("c.h5"), "images", H5T_NATIVE_UINT8, {2, 5, 4, 4});
  expect_error(d.file("c.h5"), "expected N x C x H x W with C in 1..4");
}

TEST(BadFiles, ZeroImages) {
  TempDir d;
  write_raw_h5(d.file("z.h5"), "images", H5T_NATIVE_UINT8, {0, 3, 4, 4});
  expect_error(d.file("z.h5"), "holds no images");
}

// A chunked dataset of any declared shape costs no storage until written: damaged dataspace dims (found by
// fuzz_h5) must not reach the int64 byte counts downstream, nor size a labels vector beyond memory.
static void write_unwritten_chunked(hid_t f, const char* name, hid_t type, const std::vector<hsize_t>& dims) {
  hid_t s = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  const std::vector<hsize_t> chunk(dims.size(), 1);
  H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  hid_t d = H5Dcreate2(f, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0) << name;
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(s);
}

TEST(BadFiles, ShapesWhoseBytesOverflowAreRefused) {
  TempDir d;
  const hsize_t big = hsize_t{1} << 31;
  for (const std::vector<hsize_t>& dims : {std::vector<hsize_t>{1, 3, big, big},  // 3·2^62 bytes: int64 overflow
                                           std::vector<hsize_t>{big, 1, big, 4}}) {
    const std::string p = d.file("huge.h5");
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    write_unwritten_chunked(f, "images", H5T_NATIVE_UINT8, dims);
    H5Fclose(f);
    expect_error(p, "more bytes than any real dataset");
  }
}

TEST(BadFiles, MoreLabelsThanMemoryAreRefused) {
  TempDir d;
  const std::string p = d.file("labels.h5");
  const hsize_t n = hsize_t{1} << 32;  // 4 GiB of 1x1x1 images is legal; 32 GiB of labels is refused
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  write_unwritten_chunked(f, "images", H5T_NATIVE_UINT8, {n, 1, 1, 1});
  write_unwritten_chunked(f, "labels", H5T_NATIVE_INT64, {n});
  H5Fclose(f);
  expect_error(p, "more than gantry keeps in memory");
}

// libhdf5 1.10.8 segfaults on this 2 KB file (found by fuzz_h5: a damaged local heap, a failed malloc,
// then a copy into the null pointer, inside H5Lexists): opening it prints one line naming the file and
// exits 2 instead (h5_crash_guard.h).
TEST(BadFilesDeathTest, LibHdf5CrashIsOneLineAndExit2) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string p = std::string(GANTRY_TEST_SOURCE_DIR) + "/fixtures/hdf5-crash-local-heap";
  EXPECT_EXIT(H5ImageFile f(p), testing::ExitedWithCode(2),
              "^gantry: .*hdf5-crash-local-heap: libhdf5 crashed reading it \\(SIGSEGV\\): a damaged HDF5 file");
}

// Only a fault inside a guard is blamed on the file: outside one (before any guard, after one closed),
// a fault is the crash it always was.
TEST(BadFilesDeathTest, FaultsOutsideAGuardStillCrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto fault = [] {
    volatile int* volatile p = nullptr;
    *p = 1;
  };
  const gantry::data::h5::CrashLines lines("x.h5");
  EXPECT_EXIT(
      {
        { gantry::data::h5::CrashGuard g(lines); }
        fault();
      },
      testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(
      {
        gantry::data::h5::CrashGuard g(lines);
        fault();
      },
      testing::ExitedWithCode(2), "^gantry: x.h5: libhdf5 crashed reading it \\(SIGSEGV\\)");
  EXPECT_EXIT(
      {
        { gantry::data::h5::CrashGuard g(lines); }
        raise(SIGSEGV);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(BadFiles, MismatchedLabels) {
  TempDir d;
  const std::string p = d.file("l.h5");
  write_raw_h5(p, "images", H5T_NATIVE_UINT8, {3, 1, 2, 2});
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hsize_t n = 2;
  hid_t s = H5Screate_simple(1, &n, nullptr);
  H5Dclose(H5Dcreate2(f, "labels", H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(s);
  H5Fclose(f);
  expect_error(p, "dataset 'labels' must be integers of shape 3");
}

TEST(BadFiles, NewerFormatVersion) {
  TempDir d;
  const std::string p = d.file("v.h5");
  write_raw_h5(p, "images", H5T_NATIVE_UINT8, {1, 1, 2, 2});
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  gantry::data::h5::write_attr(f, "gantry_format_version", int64_t{kFormatVersion + 1});
  H5Fclose(f);
  expect_error(p, "newer than this gantry reads");
}

// Root attributes of a gantry file that contradict its images, or are of another
// type, are refused by name (a damaged or hand-edited file).
TEST(BadFiles, RootAttributesMustAgreeWithTheImages) {
  TempDir d;
  const std::string good = d.file("good.h5");
  write_synth(good, 6);  // 6 x 3 x 16 x 16
  auto with = [&](const char* name, auto write) {
    const std::string p = d.file(std::string("attr-") + name + ".h5");
    std::filesystem::copy_file(good, p, std::filesystem::copy_options::overwrite_existing);
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, name);
    write(f);
    H5Fclose(f);
    return p;
  };
  auto int_attr = [&](const char* name, int64_t v) {
    return with(name, [&](hid_t f) { gantry::data::h5::write_attr(f, name, v); });
  };
  auto double_attr = [&](const char* name, double v) {
    return with(name, [&](hid_t f) {
      hid_t sp = H5Screate(H5S_SCALAR);
      hid_t a = H5Acreate2(f, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
      H5Aclose(a);
      H5Sclose(sp);
    });
  };
  auto string_attr = [&](const char* name, const std::string& v) {
    return with(name, [&](hid_t f) { gantry::data::h5::write_attr(f, name, v); });
  };
  expect_error(int_attr("count", 1000000000000), "root attribute 'count' says 1000000000000 but the images have 6");
  expect_error(int_attr("count", -5), "root attribute 'count' says -5");
  expect_error(int_attr("count", 0), "root attribute 'count' says 0");
  expect_error(int_attr("resolution", 32), "root attribute 'resolution' says 32 but the images have 16 rows");
  expect_error(int_attr("channels", 1), "root attribute 'channels' says 1 but the images have 3 channels");
  expect_error(int_attr("height", 17), "root attribute 'height' says 17");
  expect_error(int_attr("width", 8), "root attribute 'width' says 8");
  expect_error(string_attr("count", "six"), "root attribute 'count' is not one integer");
  expect_error(string_attr("gantry_format_version", "one"),
               "root attribute 'gantry_format_version' is not one integer");
  expect_error(double_attr("gantry_format_version", 1.5), "root attribute 'gantry_format_version' is not one integer");
  expect_error(int_attr("gantry_format_version", 0), "format version 0 is not a gantry format version");
  expect_error(int_attr("source", 3), "root attribute 'source' is not one string");
  EXPECT_EQ(open_error(int_attr("count", 6)), "");  // the right values pass
}

// Every byte gantry writes is checked: the 1.10 file format checksums the
// metadata and Fletcher-32 each chunk. Flipping any one bit of a packed file
// (compressed or not) either is refused when the file is opened or read in
// full, or leaves every image, label and attribute as it was.
TEST(BadFiles, EveryFlippedBitIsFoundOrHarmless) {
  TempDir d;
  for (const int gzip : {0, 6}) {
    SynthOptions o;
    o.output.out = d.file("f.h5");
    o.output.progress = false;
    o.output.gzip_level = gzip;
    o.output.force = true;
    o.channels = 1;
    o.height = o.width = 8;
    o.count = 12;
    synth_dataset(o);
    auto read_all = [](const std::string& path) {
      H5ImageFile f(path);
      std::vector<uint8_t> px(static_cast<size_t>(f.info().count * f.info().image_bytes()));
      f.read_range(0, f.info().count, px.data());
      return std::make_tuple(px, f.info().source, f.info().creation_command, f.info().count);
    };
    ASSERT_TRUE(H5ImageFile(d.file("f.h5")).info().checksummed);
    const auto want = read_all(d.file("f.h5"));
    std::ifstream in(d.file("f.h5"), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::mt19937_64 rng(7 + gzip);
    int refused = 0, harmless = 0;
    for (int trial = 0; trial < 300; ++trial) {
      std::string damaged = bytes;
      const size_t at = rng() % damaged.size();
      damaged[at] = static_cast<char>(damaged[at] ^ (1 << (rng() % 8)));
      std::ofstream(d.file("d.h5"), std::ios::binary | std::ios::trunc) << damaged;
      try {
        EXPECT_EQ(read_all(d.file("d.h5")), want)
            << "gzip " << gzip << ": bit flipped at byte " << at << " silently changed the data";
        ++harmless;
      } catch (const DataError& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        ++refused;
      }
    }
    EXPECT_GT(refused, 200) << "gzip " << gzip;  // the rest hit unused bytes (free space, padding)
    std::printf("gzip %d: %d flips refused, %d harmless\n", gzip, refused, harmless);
  }
}

TEST(BadFiles, PlainArrayFromAnotherToolIsAccepted) {
  TempDir d;
  std::vector<uint8_t> px(2 * 3 * 4 * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i);
  write_raw_h5(d.file("plain.h5"), "images", H5T_NATIVE_UINT8, {2, 3, 4, 4}, px.data());
  H5ImageFile f(d.file("plain.h5"));
  EXPECT_EQ(f.info().format_version, 0);
  EXPECT_EQ(f.info().images_per_chunk, 0);  // contiguous
  EXPECT_FALSE(f.info().checksummed);       // older files and other tools' have no chunk checksums
  std::vector<uint8_t> back(px.size());
  f.read_range(0, 2, back.data());
  EXPECT_EQ(back, px);
}

TEST(BadFiles, LoaderReportsTheSameErrorsFromItsIoThread) {
  TempDir d;
  std::ofstream(d.file("x.h5")) << "garbage";
  LoaderOptions o;
  o.path = d.file("x.h5");
  o.global_batch = 2;
  try {
    PrefetchLoader loader(o);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), d.file("x.h5") + ": not an HDF5 file");
  }
  write_synth(d.file("s.h5"), 4);
  o.path = d.file("s.h5");
  o.global_batch = 8;  // more than the file holds
  EXPECT_THROW(PrefetchLoader{o}, std::invalid_argument);
  o.global_batch = 3;
  o.world = 2;
  EXPECT_THROW(PrefetchLoader{o}, std::invalid_argument);
}

TEST(Writer, OutputAppearsOnlyWhenComplete) {
  TempDir d;
  const std::string out = d.file("w.h5");
  WriterOptions wo;
  wo.channels = 1;
  wo.height = wo.width = 4;
  std::vector<uint8_t> px(16 * 3, 9);
  {
    DatasetWriter w(out, wo);
    w.append(px.data(), 3);
    EXPECT_TRUE(std::filesystem::exists(w.temp_path()));
    EXPECT_FALSE(std::filesystem::exists(out));
    // destroyed without commit: an error or an interrupt
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_TRUE(std::filesystem::is_empty(d.path())) << "temporary file left behind";
  {
    DatasetWriter w(out, wo);
    w.append(px.data(), 3);
    w.commit();
  }
  EXPECT_EQ(H5ImageFile(out).info().count, 3);
  EXPECT_THROW(DatasetWriter(out, wo), DataError);  // exists, no overwrite
  wo.overwrite = true;
  {
    DatasetWriter w(out, wo);
    w.append(px.data(), 2);
    EXPECT_EQ(H5ImageFile(out).info().count, 3);  // the old file stays intact until commit
    w.commit();
  }
  EXPECT_EQ(H5ImageFile(out).info().count, 2);
  {
    DatasetWriter w(d.file("empty.h5"), wo);
    EXPECT_THROW(w.commit(), DataError);
  }
  EXPECT_FALSE(std::filesystem::exists(d.file("empty.h5")));
}

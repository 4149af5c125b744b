// Image folder → HDF5: deterministic order, the documented center crop and
// resize (checked on images whose correct output is known region by region,
// and against torch's anti-aliased bicubic), gray/RGB conversion, PNG and
// JPEG, and corrupt files (stop, or --skip-bad).
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>

#include "data/data_error.h"
#include "data/h5_image_file.h"
#include "data/image_decode.h"
#include "data/packers.h"
#include "data_test_util.h"

using namespace gantry::data;
using gantry::test::TempDir;
using Rgb = std::array<uint8_t, 3>;

namespace {

// An HWC RGB image: `margin` outside the centred square, and the square split
// into four quadrants of the given colours (TL, TR, BL, BR).
std::vector<uint8_t> quadrant_image(int w, int h, Rgb margin, const std::array<Rgb, 4>& q) {
  const int s = std::min(w, h), x0 = (w - s) / 2, y0 = (h - s) / 2;
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int cx = x - x0, cy = y - y0;
      Rgb c = margin;
      if (cx >= 0 && cx < s && cy >= 0 && cy < s) c = q[(cy >= s / 2) * 2 + (cx >= s / 2)];
      std::copy(c.begin(), c.end(), img.begin() + (static_cast<size_t>(y) * w + x) * 3);
    }
  return img;
}

void write_png(const std::string& path, int w, int h, int c, const std::vector<uint8_t>& px) {
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c));
}
void write_jpg(const std::string& path, int w, int h, int c, const std::vector<uint8_t>& px) {
  ASSERT_TRUE(stbi_write_jpg(path.c_str(), w, h, c, px.data(), 100));
}

const std::array<Rgb, 4> kQuadrants = {Rgb{200, 30, 30}, Rgb{30, 200, 30}, Rgb{30, 30, 200}, Rgb{220, 220, 40}};
const Rgb kMargin = {0, 0, 0};

// Checks a CHW output of size r: every pixel at least `guard` pixels away from
// the quadrant boundary has its quadrant's colour within tol, and so does the
// whole outer border (where a wrong crop would show the margin colour).
void expect_quadrants(const uint8_t* chw, int r, int guard, int tol, const std::string& what) {
  const size_t plane = static_cast<size_t>(r) * r;
  for (int y = 0; y < r; ++y)
    for (int x = 0; x < r; ++x) {
      const double fy = y + 0.5 - r / 2.0, fx = x + 0.5 - r / 2.0;  // distance to the boundary, in output px
      if (std::abs(fy) < guard || std::abs(fx) < guard) continue;
      const Rgb& want = kQuadrants[(fy > 0) * 2 + (fx > 0)];
      for (int c = 0; c < 3; ++c)
        ASSERT_NEAR(chw[c * plane + y * r + x], want[c], tol) << what << " at (" << y << "," << x << ") channel " << c;
    }
}

PackImagesOptions pack_options(const std::string& dir, const std::string& out, int size) {
  PackImagesOptions o;
  o.dir = dir;
  o.size = size;
  o.threads = 2;
  o.output.out = out;
  o.output.progress = false;
  return o;
}

}  // namespace

TEST(ImageDecode, CenterCropThenDownsample) {
  TempDir d;
  for (auto [w, h] : {std::pair{300, 200}, std::pair{200, 300}, std::pair{240, 240}}) {
    write_png(d.file("q.png"), w, h, 3, quadrant_image(w, h, kMargin, kQuadrants));
    std::vector<uint8_t> out(3 * 20 * 20);
    load_square_image(d.file("q.png"), 20, 3, out.data());  // 10x (12x) reduction
    // Mitchell support is 2 output px when shrinking; constant regions come back exact up to rounding.
    expect_quadrants(out.data(), 20, 3, 1, std::to_string(w) + "x" + std::to_string(h));
  }
}

TEST(ImageDecode, CenterCropOffsetIsFloorOfHalfTheExcess) {
  // Without resizing (R = min(w, h)) the output is exactly the crop at
  // x0 = floor((w - s) / 2), y0 = floor((h - s) / 2); odd excesses included.
  TempDir d;
  for (auto [w, h] : {std::pair{31, 20}, std::pair{20, 33}}) {
    std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37) % 251);
    write_png(d.file("c.png"), w, h, 3, px);
    const int s = std::min(w, h), x0 = (w - s) / 2, y0 = (h - s) / 2;
    std::vector<uint8_t> out(3 * s * s);
    load_square_image(d.file("c.png"), s, 3, out.data());
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < s; ++y)
        for (int x = 0; x < s; ++x)
          ASSERT_EQ(out[(c * s + y) * s + x], px[((y + y0) * w + (x + x0)) * 3 + c]) << w << "x" << h;
  }
}

TEST(ImageDecode, UpsampleAndJpeg) {
  TempDir d;
  write_png(d.file("small.png"), 50, 40, 3, quadrant_image(50, 40, kMargin, kQuadrants));
  std::vector<uint8_t> out(3 * 64 * 64);
  load_square_image(d.file("small.png"), 64, 3, out.data());
  expect_quadrants(out.data(), 64, 4, 1, "upsampled PNG");
  write_jpg(d.file("q.jpg"), 320, 256, 3, quadrant_image(320, 256, kMargin, kQuadrants));
  std::vector<uint8_t> j(3 * 32 * 32);
  load_square_image(d.file("q.jpg"), 32, 3, j.data());
  expect_quadrants(j.data(), 32, 4, 4, "JPEG");  // JPEG is lossy even at quality 100
}

// Damage a lenient decoder would decode around is refused: any flipped bit of
// a PNG (every chunk has a CRC-32) and a JPEG cut short (libjpeg's warning);
// a header claiming more pixels than the packer takes is refused before decoding.
TEST(ImageDecode, DamagedFilesAreRefused) {
  TempDir d;
  write_png(d.file("p.png"), 40, 30, 3, quadrant_image(40, 30, kMargin, kQuadrants));
  write_jpg(d.file("j.jpg"), 40, 30, 3, quadrant_image(40, 30, kMargin, kQuadrants));
  auto bytes_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto decode_error = [](const std::vector<uint8_t>& b) {
    std::vector<uint8_t> out(3 * 16 * 16);
    try {
      decode_square_image(b.data(), b.size(), "x", 16, 3, out.data());
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const auto png = bytes_of(d.file("p.png"));
  ASSERT_EQ(decode_error(png), "");
  for (size_t at = 8; at < png.size(); ++at) {  // every byte after the signature
    auto damaged = png;
    damaged[at] ^= 0x10;
    const auto e = decode_error(damaged);
    ASSERT_NE(e, "") << "flip at byte " << at << " of " << png.size() << " accepted";
  }
  auto idat = png;
  const auto pos = std::search(idat.begin(), idat.end(), std::begin("IDAT"), std::end("IDAT") - 1) - idat.begin();
  idat[pos + 10] ^= 0x01;  // inside the compressed pixels
  EXPECT_NE(decode_error(idat).find("PNG chunk 1 ('IDAT') fails its CRC"), std::string::npos) << decode_error(idat);
  auto short_png = png;
  short_png.resize(png.size() - 12);  // without IEND
  EXPECT_NE(decode_error(short_png).find("ends before its IEND"), std::string::npos) << decode_error(short_png);

  const auto jpg = bytes_of(d.file("j.jpg"));
  ASSERT_EQ(decode_error(jpg), "");
  for (const size_t keep : {jpg.size() - 2, jpg.size() / 2, jpg.size() - 40}) {
    const std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + static_cast<long>(keep));
    EXPECT_NE(decode_error(cut).find("x: cannot decode JPEG ("), std::string::npos)
        << keep << ": " << decode_error(cut);
  }
  EXPECT_NE(decode_error({0x42, 0x4d, 0, 0}).find("neither PNG nor JPEG"), std::string::npos);

  // 8192 x 16384 declared in IHDR (CRC fixed up): refused by its header.
  auto huge = png;
  const uint8_t width[4] = {0, 0, 0x20, 0}, height[4] = {0, 0, 0x40, 0};
  std::copy(width, width + 4, huge.begin() + 16);
  std::copy(height, height + 4, huge.begin() + 20);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, huge.data() + 12, 17));
  for (int k = 0; k < 4; ++k) huge[29 + k] = static_cast<uint8_t>(crc >> (24 - 8 * k));
  EXPECT_NE(decode_error(huge).find("8192x16384 pixels is larger than the packer takes"), std::string::npos)
      << decode_error(huge);
}

TEST(ImageDecode, ResizeAgreesWithTorchAntialiasedBicubic) {
  // An independent implementation of anti-aliased downsampling: torch's
  // interpolate(bicubic, antialias). Filters differ slightly (Mitchell vs Keys
  // a = -0.5 ... -0.75), so on a smooth image they agree to a couple of levels.
  TempDir d;
  const int s = 256, r = 64;
  std::vector<uint8_t> px(s * s * 3);
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x) {
      px[(y * s + x) * 3 + 0] = static_cast<uint8_t>(127.5 + 120 * std::sin(x / 23.0) * std::cos(y / 31.0));
      px[(y * s + x) * 3 + 1] = static_cast<uint8_t>(x);
      px[(y * s + x) * 3 + 2] = static_cast<uint8_t>((x + y) / 2);
    }
  write_png(d.file("g.png"), s, s, 3, px);
  std::vector<uint8_t> out(3 * r * r);
  load_square_image(d.file("g.png"), r, 3, out.data());
  auto src = torch::from_blob(px.data(), {1, s, s, 3}, torch::kUInt8).permute({0, 3, 1, 2}).to(torch::kDouble);
  namespace F = torch::nn::functional;
  auto ref = F::interpolate(src, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{r, r})
                                     .mode(torch::kBicubic)
                                     .align_corners(false)
                                     .antialias(true))
                 .squeeze(0);
  auto got = torch::from_blob(out.data(), {3, r, r}, torch::kUInt8).to(torch::kDouble);
  const double mean_abs = (got - ref).abs().mean().item<double>();
  const double max_abs = (got - ref).abs().max().item<double>();
  EXPECT_LT(mean_abs, 1.0);
  EXPECT_LT(max_abs, 6.0);
}

TEST(ImageDecode, GrayAndRgbConversions) {
  TempDir d;
  std::vector<uint8_t> gray(40 * 40, 77);
  write_png(d.file("g.png"), 40, 40, 1, gray);
  std::vector<uint8_t> rgb(3 * 8 * 8);
  load_square_image(d.file("g.png"), 8, 3, rgb.data());
  for (auto v : rgb) ASSERT_EQ(v, 77);  // gray replicated into R, G, B
  std::vector<uint8_t> color(40 * 40 * 3);
  for (size_t i = 0; i < color.size(); i += 3) color[i] = 200, color[i + 1] = 100, color[i + 2] = 50;
  write_png(d.file("c.png"), 40, 40, 3, color);
  std::vector<uint8_t> g(8 * 8);
  load_square_image(d.file("c.png"), 8, 1, g.data());
  for (auto v : g) ASSERT_EQ(v, (77 * 200 + 150 * 100 + 29 * 50) >> 8);
}

TEST(PackImages, FolderTreeInSortedOrderWithCorruptFiles) {
  TempDir d;
  const auto root = d.path() / "imgs";
  std::filesystem::create_directories(root / "a");
  std::filesystem::create_directories(root / "b");
  // Bytewise order of relative paths: "A.png" < "a/z.png" < "b.png" < "b/0.jpeg" < "c.JPG"
  const std::vector<std::pair<std::string, uint8_t>> files = {
      {"c.JPG", 50}, {"b.png", 150}, {"a/z.png", 100}, {"A.png", 10}, {"b/0.jpeg", 200}};
  for (const auto& [name, v] : files) {
    std::vector<uint8_t> px(24 * 24 * 3, v);
    const auto p = (root / name).string();
    if (name.ends_with("png"))
      write_png(p, 24, 24, 3, px);
    else
      write_jpg(p, 24, 24, 3, px);
  }
  std::ofstream(root / "notes.txt") << "ignored";
  const auto r = pack_images(pack_options(root.string(), d.file("o.h5"), 8));
  ASSERT_EQ(r.info.count, 5);
  H5ImageFile f(d.file("o.h5"));
  std::vector<uint8_t> px(5 * 3 * 64);
  f.read_range(0, 5, px.data());
  const uint8_t want[5] = {10, 100, 150, 200, 50};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(px[i * 192 + 100], want[i], 2) << "image " << i;

  // A corrupt PNG and a truncated one: the pack stops naming the file...
  std::ofstream(root / "b" / "bad.png", std::ios::binary) << "\x89PNG\r\n\x1a\n garbage";
  std::vector<uint8_t> ok(24 * 24 * 3, 1);
  write_png((root / "trunc.png").string(), 24, 24, 3, ok);
  std::filesystem::resize_file(root / "trunc.png", 60);
  try {
    pack_images(pack_options(root.string(), d.file("p.h5"), 8));
    ADD_FAILURE() << "corrupt file not reported";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("b/bad.png: PNG truncated"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(d.file("p.h5")));
  // ...or, with skip_bad, skips and lists both.
  auto o = pack_options(root.string(), d.file("p.h5"), 8);
  o.skip_bad = true;
  const auto s = pack_images(o);
  EXPECT_EQ(s.info.count, 5);
  ASSERT_EQ(s.skipped.size(), 2u);
  EXPECT_NE(s.skipped[0].find("bad.png"), std::string::npos);
  EXPECT_NE(s.skipped[1].find("trunc.png"), std::string::npos);
}

TEST(PackImages, GrayscaleOutputAndEmptyFolder) {
  TempDir d;
  std::filesystem::create_directories(d.path() / "g");
  std::vector<uint8_t> px(30 * 20 * 3, 0);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = 255;
  write_png((d.path() / "g" / "r.png").string(), 30, 20, 3, px);
  auto o = pack_options((d.path() / "g").string(), d.file("g.h5"), 10);
  o.channels = 1;
  pack_images(o);
  H5ImageFile f(d.file("g.h5"));
  EXPECT_EQ(f.info().channels, 1);
  std::vector<uint8_t> g(100);
  f.read_image(0, g.data());
  for (auto v : g) ASSERT_EQ(v, (77 * 255) >> 8);
  std::filesystem::create_directories(d.path() / "empty");
  EXPECT_THROW(pack_images(pack_options((d.path() / "empty").string(), d.file("e.h5"), 8)), DataError);
}

#include "data/image_decode.h"

#include <stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>

#include "data/data_error.h"
#include "data/image_codecs.h"

namespace gantry::data {

namespace fs = std::filesystem;

void decode_square_image(const uint8_t* bytes, size_t n, const std::string& name, int size, int channels,
                         uint8_t* out) {
  static constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  DecodedImage image;
  if (n >= 8 && std::equal(kPngSignature, kPngSignature + 8, bytes))
    image = decode_png(bytes, n, name, channels);
  else if (n >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    image = decode_jpeg(bytes, n, name, channels);
  else
    throw DataError(name + ": cannot decode image (neither PNG nor JPEG)");
  if (image.channels != channels) throw DataError(name + ": decoded to an unexpected number of channels");
  const int w = image.width, h = image.height;
  const uint8_t* pixels = image.pixels.data();
  const int side = std::min(w, h);
  const int x0 = (w - side) / 2, y0 = (h - side) / 2;
  const uint8_t* crop = pixels + (static_cast<size_t>(y0) * w + x0) * channels;
  const size_t row_stride = static_cast<size_t>(w) * channels;

  std::vector<uint8_t> hwc(static_cast<size_t>(size) * size * channels);
  if (side == size) {
    for (int y = 0; y < size; ++y)
      std::copy_n(crop + y * row_stride, static_cast<size_t>(size) * channels,
                  hwc.data() + size_t(y) * size * channels);
  } else if (!stbir_resize_uint8_generic(crop, side, side, static_cast<int>(row_stride), hwc.data(), size, size, 0,
                                         channels, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_FILTER_DEFAULT,
                                         STBIR_COLORSPACE_LINEAR, nullptr)) {
    throw DataError(name + ": resize failed");
  }
  const size_t plane = static_cast<size_t>(size) * size;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < channels; ++c) out[c * plane + p] = hwc[p * channels + c];
}

void load_square_image(const fs::path& path, int size, int channels, uint8_t* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot open");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path.string() + ": read error");
  decode_square_image(bytes.data(), bytes.size(), path.string(), size, channels, out);
}

std::vector<fs::path> list_images(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir.string() + ": not a directory");
  std::vector<fs::path> rel;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") rel.push_back(fs::relative(it->path(), dir));
  }
  if (ec) throw DataError(dir.string() + ": cannot list: " + ec.message());
  if (rel.empty()) throw DataError(dir.string() + ": holds no .png/.jpg/.jpeg images");
  std::sort(rel.begin(), rel.end(), [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  std::vector<fs::path> out;
  out.reserve(rel.size());
  for (auto& r : rel) out.push_back(dir / r);
  return out;
}

}  // namespace gantry::data

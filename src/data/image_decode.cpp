#include "data/image_decode.h"

#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "data/data_error.h"

namespace gantry::data {

namespace fs = std::filesystem;

void load_square_image(const fs::path& path, int size, int channels, uint8_t* out) {
  int w = 0, h = 0, file_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &file_channels, channels),
                                                   stbi_image_free);
  if (!pixels) {
    const char* why = stbi_failure_reason();
    throw DataError(path.string() + ": cannot decode image (" + (why ? why : "unknown error") + ")");
  }
  const int side = std::min(w, h);
  const int x0 = (w - side) / 2, y0 = (h - side) / 2;
  const uint8_t* crop = pixels.get() + (static_cast<size_t>(y0) * w + x0) * channels;
  const size_t row_stride = static_cast<size_t>(w) * channels;

  std::vector<uint8_t> hwc(static_cast<size_t>(size) * size * channels);
  if (side == size) {
    for (int y = 0; y < size; ++y)
      std::copy_n(crop + y * row_stride, static_cast<size_t>(size) * channels, hwc.data() + size_t(y) * size * channels);
  } else if (!stbir_resize_uint8_generic(crop, side, side, static_cast<int>(row_stride), hwc.data(), size, size, 0,
                                         channels, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_FILTER_DEFAULT,
                                         STBIR_COLORSPACE_LINEAR, nullptr)) {
    throw DataError(path.string() + ": resize failed");
  }
  const size_t plane = static_cast<size_t>(size) * size;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < channels; ++c) out[c * plane + p] = hwc[p * channels + c];
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

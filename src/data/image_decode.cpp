#include "data/image_decode.h"

#include <stb_image.h>
#include <zlib.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>

#include "data/data_error.h"

namespace gantry::data {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxImagePixels = int64_t{1} << 26;  // 8192 x 8192

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// PNG stores a CRC-32 with every chunk (PNG spec, 5.3), which stb_image does not
// check: every chunk's CRC must match, and the file must reach its IEND chunk.
void verify_png_chunks(const uint8_t* bytes, size_t n, const std::string& name) {
  size_t at = 8;  // after the signature
  for (int index = 0;; ++index) {
    if (n - at < 12) throw DataError(name + ": PNG truncated (ends before its IEND chunk)");
    const uint32_t length = big_endian32(bytes + at);
    if (length > 0x7fffffffu || length > n - at - 12)
      throw DataError(name + ": PNG truncated or damaged (chunk " + std::to_string(index) + " runs past the end)");
    const uint8_t* type = bytes + at + 4;
    const uint32_t stored = big_endian32(type + 4 + length);
    if (static_cast<uint32_t>(crc32(0, type, 4 + length)) != stored)
      throw DataError(name + ": PNG chunk " + std::to_string(index) + " ('" + std::string(type, type + 4) +
                      "') fails its CRC (damaged file)");
    at += 12 + length;
    if (std::equal(type, type + 4, "IEND")) return;
  }
}

// JPEG has no checksum; a truncated one (stb_image decodes it, padding the rest in
// grey) is told by its last scan (SOS, FF DA) not being followed by an end of image
// (EOI, FF D9). Entropy-coded data never hold FF DA or FF D9 (ITU T.81, B.1.1.5).
void verify_jpeg_end(const uint8_t* bytes, size_t n, const std::string& name) {
  size_t last_sos = 0, last_eoi = 0;
  for (size_t i = 2; i + 1 < n; ++i) {
    if (bytes[i] != 0xff) continue;
    if (bytes[i + 1] == 0xda) last_sos = i;
    else if (bytes[i + 1] == 0xd9) last_eoi = i;
  }
  if (last_sos == 0) throw DataError(name + ": JPEG without image data (no start of scan)");
  if (last_eoi < last_sos) throw DataError(name + ": JPEG truncated (no end-of-image marker after its last scan)");
}

}  // namespace

void decode_square_image(const uint8_t* bytes, size_t n, const std::string& name, int size, int channels,
                         uint8_t* out) {
  static constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::equal(kPngSignature, kPngSignature + 8, bytes)) verify_png_chunks(bytes, n, name);
  else if (n >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) verify_jpeg_end(bytes, n, name);
  else throw DataError(name + ": cannot decode image (neither PNG nor JPEG)");
  if (n > static_cast<size_t>(INT32_MAX)) throw DataError(name + ": image file larger than 2 GiB");
  int w = 0, h = 0, file_channels = 0;
  // The header's size, before decoding: a few bytes can claim gigapixels.
  if (stbi_info_from_memory(bytes, static_cast<int>(n), &w, &h, &file_channels) &&
      int64_t{w} * h > kMaxImagePixels)
    throw DataError(name + ": image of " + std::to_string(w) + "x" + std::to_string(h) +
                    " pixels is larger than the packer takes (" + std::to_string(kMaxImagePixels >> 20) + " Mpx)");
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes, static_cast<int>(n), &w, &h, &file_channels, channels), stbi_image_free);
  if (!pixels) {
    const char* why = stbi_failure_reason();
    throw DataError(name + ": cannot decode image (" + (why ? why : "unknown error") + ")");
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

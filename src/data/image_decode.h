// Decoding one image file for the packer: PNG (libpng) or JPEG (libjpeg-turbo),
// damaged files refused (data/image_codecs.h), center crop to a square,
// anti-aliased resize (stb_image_resize), planar CHW uint8.
//
// Documented transform (docs/DATA.md):
//   s = min(w, h); crop the s×s square at x0 = floor((w−s)/2), y0 = floor((h−s)/2);
//   resize s×s → R×R with stb_image_resize's default filters (Mitchell–Netravali
//   B=C=1/3 when shrinking, Catmull–Rom when enlarging), clamped edges, on the
//   stored 8-bit values (no sRGB linearisation);
//   channels: 3 = RGB (gray inputs replicated, alpha dropped); 1 = gray (RGB
//   PNGs converted as (77 R + 150 G + 29 B) >> 8; colour JPEGs: their luma Y).
#pragma once
#include <cstdint>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace gantry::data {

// Writes channels·size·size bytes (CHW) to out. Throws DataError naming the
// file for an unreadable, corrupt or unsupported image.
void load_square_image(const std::filesystem::path& path, int size, int channels, uint8_t* out);
// The same from the file's bytes in memory; `name` names the image in errors.
void decode_square_image(const uint8_t* bytes, size_t n, const std::string& name, int size, int channels, uint8_t* out);

// Every .png/.jpg/.jpeg (any case) under dir, recursively, sorted by their path
// relative to dir (bytewise): the same order on every machine. Throws DataError
// if dir is not a directory or holds no images.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& dir);

}  // namespace gantry::data

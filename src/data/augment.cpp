#include "data/augment.h"

#include <array>
#include <vector>

#include "common/rng.h"

namespace gantry::data {

namespace {

const std::array<float, 256>& to_unit_range() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = static_cast<float>(i / 127.5 - 1.0);
    return t;
  }();
  return table;
}

// torch 'reflect' padding index for i in (−n, 2n−1).
inline int64_t reflect(int64_t i, int64_t n) {
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
}

}  // namespace

AugmentDraw draw_augment(const AugmentOptions& o, uint64_t aug_key) {
  AugmentDraw d;
  if (!o.hflip && o.max_shift == 0) return d;
  SplitMix64 rng(aug_key);
  const bool flip = (rng.next() >> 63) != 0;  // drawn even when unused: draws do not shift with options
  const auto span = static_cast<uint64_t>(2 * o.max_shift + 1);
  const int dx = static_cast<int>(rng.below(span)) - o.max_shift;
  const int dy = static_cast<int>(rng.below(span)) - o.max_shift;
  d.flip = o.hflip && flip;
  d.dx = dx;
  d.dy = dy;
  return d;
}

void decode_image(const uint8_t* src, int64_t channels, int64_t height, int64_t width, const AugmentDraw& d,
                  float* dst) {
  const auto& lut = to_unit_range();
  const size_t plane = static_cast<size_t>(height) * width;
  if (!d.flip && d.dx == 0 && d.dy == 0) {
    for (size_t i = 0; i < plane * channels; ++i) dst[i] = lut[src[i]];
    return;
  }
  // Source column for each output column, computed once per image.
  std::vector<int64_t> col(static_cast<size_t>(width));
  for (int64_t x = 0; x < width; ++x) {
    const int64_t xs = reflect(x - d.dx, width);
    col[x] = d.flip ? width - 1 - xs : xs;
  }
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* row = src + c * plane + reflect(y - d.dy, height) * width;
      float* out = dst + c * plane + y * width;
      for (int64_t x = 0; x < width; ++x) out[x] = lut[row[col[x]]];
    }
}

}  // namespace gantry::data

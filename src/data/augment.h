// Turning a stored uint8 image into a training sample: x / 127.5 − 1 (0 → −1,
// 255 → +1), with optional horizontal flip and integer translation. The random
// choices come from the slot's aug_key (sampler.h), so the same global slot is
// augmented the same way whatever rank reads it and after a resume.
//
// The flip (probability 1/2) comes first, then a translation by (dx, dy), each
// uniform in [−max_shift, max_shift], with reflect padding (torch's 'reflect':
// the edge pixel is not repeated). With f = the (maybe flipped) image:
//   out(c, y, x) = f(c, reflect(y − dy), reflect(x − dx))
// i.e. torch: pad(f, s, 'reflect')[..., s−dy : s−dy+H, s−dx : s−dx+W].
#pragma once
#include <cstdint>

namespace gantry::data {

struct AugmentOptions {
  bool hflip = false;
  int max_shift = 0;  // pixels; must be < H and < W
};

struct AugmentDraw {
  bool flip = false;
  int dx = 0, dy = 0;
};

AugmentDraw draw_augment(const AugmentOptions& options, uint64_t aug_key);

// src: C·H·W uint8; dst: C·H·W float.
void decode_image(const uint8_t* src, int64_t channels, int64_t height, int64_t width, const AugmentDraw& draw,
                  float* dst);

}  // namespace gantry::data

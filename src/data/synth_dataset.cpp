#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "data/data_error.h"
#include "data/dataset_writer.h"
#include "data/h5_image_file.h"
#include "common/signals.h"
#include "data/packers.h"
#include "data/progress_meter.h"
#include "common/rng.h"

namespace gantry::data {

void synth_image(uint64_t seed, int64_t index, int64_t channels, int64_t height, int64_t width, uint8_t* out) {
  const uint64_t k = key(0x73796e7468ull, seed, static_cast<uint64_t>(index));
  SplitMix64 rng(k);
  struct Blob {
    double cx, cy, rx, ry, color[4];
  };
  double base[4], gx[4], gy[4];
  for (int c = 0; c < channels; ++c) {
    base[c] = 40 + 160 * rng.uniform();
    gx[c] = 120 * (rng.uniform() - 0.5);
    gy[c] = 120 * (rng.uniform() - 0.5);
  }
  // One face-sized ellipse near the centre and three smaller features.
  Blob blobs[4];
  for (int b = 0; b < 4; ++b) {
    const bool face = b == 0;
    blobs[b].cx = face ? 0.5 + 0.1 * (rng.uniform() - 0.5) : 0.2 + 0.6 * rng.uniform();
    blobs[b].cy = face ? 0.5 + 0.1 * (rng.uniform() - 0.5) : 0.2 + 0.6 * rng.uniform();
    blobs[b].rx = face ? 0.2 + 0.12 * rng.uniform() : 0.03 + 0.07 * rng.uniform();
    blobs[b].ry = face ? 0.25 + 0.12 * rng.uniform() : 0.03 + 0.07 * rng.uniform();
    for (int c = 0; c < channels; ++c) blobs[b].color[c] = 30 + 200 * rng.uniform();
  }
  const double edge = 0.02;  // soft edges, in image fractions
  const size_t plane = static_cast<size_t>(height) * width;
  for (int64_t y = 0; y < height; ++y) {
    const double v = (y + 0.5) / height;
    for (int64_t x = 0; x < width; ++x) {
      const double u = (x + 0.5) / width;
      double val[4];
      for (int c = 0; c < channels; ++c) val[c] = base[c] + gx[c] * (u - 0.5) + gy[c] * (v - 0.5);
      for (const auto& b : blobs) {
        const double du = (u - b.cx) / b.rx, dv = (v - b.cy) / b.ry;
        const double d = (std::sqrt(du * du + dv * dv) - 1.0) * std::min(b.rx, b.ry);  // ~distance to the rim
        const double a = std::clamp(0.5 - d / edge, 0.0, 1.0);
        if (a > 0)
          for (int c = 0; c < channels; ++c) val[c] += a * (b.color[c] - val[c]);
      }
      const uint64_t noise = mix64(k ^ static_cast<uint64_t>(y * width + x));
      for (int c = 0; c < channels; ++c) {
        const double n = static_cast<double>((noise >> (8 * c)) & 0xF) - 7.5;  // ±8 levels of grain
        out[c * plane + static_cast<size_t>(y * width + x)] =
            static_cast<uint8_t>(std::clamp(std::lround(val[c] + n), 0l, 255l));
      }
    }
  }
}

PackResult synth_dataset(const SynthOptions& o) {
  if (o.channels != 1 && o.channels != 3) throw std::invalid_argument("synth: channels must be 1 or 3");
  if (o.height <= 0 || o.width <= 0 || o.height > 8192 || o.width > 8192)
    throw std::invalid_argument("synth: height and width must be in 1..8192");
  if (o.count <= 0) throw std::invalid_argument("synth: --count must be positive");

  WriterOptions wo;
  wo.channels = o.channels;
  wo.height = o.height;
  wo.width = o.width;
  wo.images_per_chunk = o.output.images_per_chunk;
  wo.gzip_level = o.output.gzip_level;
  wo.overwrite = o.output.force;
  wo.source = "synth: seed " + std::to_string(o.seed);
  wo.creation_command = o.output.command;
  DatasetWriter writer(o.output.out, wo);

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t image_bytes = o.channels * o.height * o.width;
  const int64_t block = std::max<int64_t>(32, 4 * threads);
  std::vector<uint8_t> pixels(static_cast<size_t>(std::min(block, o.count) * image_bytes));
  ProgressMeter meter("synth", o.count);
  for (int64_t start = 0; start < o.count; start += block) {
    const int64_t m = std::min(block, o.count - start);
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t i; (i = next.fetch_add(1)) < m && !interrupt_requested();)
        synth_image(o.seed, start + i, o.channels, o.height, o.width, pixels.data() + i * image_bytes);
    };
    {
      std::vector<std::jthread> pool;
      for (int t = 1; t < std::min<int64_t>(threads, m); ++t) pool.emplace_back(work);
      work();
    }
    if (interrupt_requested()) throw Interrupted("interrupted; removed the partial " + o.output.out);
    writer.append(pixels.data(), m);
    if (o.output.progress) meter.update(start + m);
  }
  writer.commit();
  if (o.output.progress) meter.finish(o.count);
  return {inspect_dataset(o.output.out), {}, meter.elapsed_s()};
}

}  // namespace gantry::data

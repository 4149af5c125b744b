#include "train/point_outputs.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "common/atomic_file.h"
#include "train/sample_grid.h"

namespace gantry::train {

namespace {
torch::Tensor as_points(const torch::Tensor& p) {
  if (p.dim() != 2 || p.size(1) != 2) throw std::invalid_argument("points must be [N, 2]");
  return p.detach().to(torch::kCPU, torch::kFloat).contiguous();
}
}  // namespace

void write_points_csv(const torch::Tensor& points, const std::string& path) {
  const auto p = as_points(points);
  std::string text = "x,y\n";
  char line[64];
  const float* d = p.data_ptr<float>();
  for (int64_t i = 0; i < p.size(0); ++i) {
    std::snprintf(line, sizeof line, "%.9g,%.9g\n", d[2 * i], d[2 * i + 1]);
    text += line;
  }
  write_bytes_atomically(path, {text});
}

void write_points_npy(const torch::Tensor& points, const std::string& path) { write_npy(as_points(points), path); }

void write_npy(const torch::Tensor& values, const std::string& path) {
  // NPY format 1.0: magic, version, little-endian header length, a Python dict literal padded with
  // spaces and ending in '\n' so that magic + length + header is a multiple of 64, then the data.
  const auto p = values.detach().to(torch::kCPU, torch::kFloat).contiguous();
  std::string shape;
  for (const auto d : p.sizes()) shape += std::to_string(d) + ", ";
  if (p.dim() > 0) shape.resize(shape.size() - (p.dim() == 1 ? 1 : 2));  // (N,) for one dimension, (N, C, H, W)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string prefix = "\x93NUMPY";
  prefix += '\x01';
  prefix += '\x00';
  const uint16_t len = static_cast<uint16_t>(header.size());
  prefix += static_cast<char>(len & 0xff);
  prefix += static_cast<char>(len >> 8);
  write_bytes_atomically(
      path, {prefix, header,
             std::string_view(reinterpret_cast<const char*>(p.data_ptr<float>()), p.numel() * sizeof(float))});
}

void write_scatter_png(const torch::Tensor& points, const Mixture2D& mixture, const std::string& path, int size) {
  const auto p = as_points(points);
  double extent = 1;
  for (const auto& c : mixture.centers) extent = std::max({extent, std::abs(c[0]) + 1, std::abs(c[1]) + 1});
  if (mixture.centers.empty() && p.size(0) > 0) {
    const auto finite = p.masked_select(torch::isfinite(p));
    if (finite.numel() > 0) extent = std::max(extent, finite.abs().max().item<double>() * 1.05);
  }
  // RGB in [−1, 1] (write_png's range): white background.
  auto img = torch::ones({3, size, size}, torch::kFloat);
  auto px = [&](double v) { return (v + extent) / (2 * extent) * (size - 1); };
  auto a = img.accessor<float, 3>();
  auto put = [&](int x, int y, float r, float g, float b) {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    a[0][y][x] = r;
    a[1][y][x] = g;
    a[2][y][x] = b;
  };
  const float* d = p.data_ptr<float>();
  for (int64_t i = 0; i < p.size(0); ++i) {
    if (!std::isfinite(d[2 * i]) || !std::isfinite(d[2 * i + 1])) continue;
    const int x = static_cast<int>(std::lround(px(d[2 * i]))), y = static_cast<int>(std::lround(px(-d[2 * i + 1])));
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) put(x + dx, y + dy, -0.6f, -0.4f, 0.2f);  // dark blue 3×3 dot
  }
  for (const auto& c : mixture.centers) {  // 3σ circle, at least 4 pixels wide
    const double r = std::max(3 * mixture.sigma / (2 * extent) * (size - 1), 4.0);
    for (int k = 0; k < 720; ++k) {
      const double t = k * M_PI / 360;
      put(static_cast<int>(std::lround(px(c[0]) + r * std::cos(t))),
          static_cast<int>(std::lround(px(-c[1]) + r * std::sin(t))), 1.0f, -1.0f, -1.0f);
    }
  }
  write_png(img, path);
}

void write_points(const torch::Tensor& points, const Mixture2D& mixture, const std::string& path) {
  auto ends = [&](const char* ext) { return path.size() >= 4 && path.compare(path.size() - 4, 4, ext) == 0; };
  if (ends(".csv")) return write_points_csv(points, path);
  if (ends(".npy")) return write_points_npy(points, path);
  if (ends(".png")) return write_scatter_png(points, mixture, path);
  throw std::invalid_argument("points output " + path + ": use .csv, .npy or .png (scatter plot)");
}

}  // namespace gantry::train

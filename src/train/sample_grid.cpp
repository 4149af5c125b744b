#include "train/sample_grid.h"

#include <stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "common/atomic_file.h"

namespace gantry::train {

namespace {
// (C, H, W) in [−1, 1] → HWC uint8.
torch::Tensor to_hwc_u8(const torch::Tensor& chw) {
  return chw.detach()
      .to(torch::kCPU, torch::kFloat)
      .add(1)
      .mul(127.5)
      .round()
      .clamp(0, 255)
      .to(torch::kUInt8)
      .permute({1, 2, 0})
      .contiguous();
}
void save(const torch::Tensor& hwc, const std::string& path) {
  const int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1)), c = static_cast<int>(hwc.size(2));
  write_atomically(path, [&](const std::filesystem::path& temp) {
    if (!stbi_write_png(temp.c_str(), w, h, c, hwc.data_ptr<uint8_t>(), w * c))
      throw std::runtime_error("cannot write " + path);
  });
}
}  // namespace

torch::Tensor grid_hwc_u8(const torch::Tensor& images) {
  if (images.dim() != 4) throw std::invalid_argument("sample grid: expected (N, C, H, W)");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))), rows = (n + cols - 1) / cols;
  const int64_t pad = 2;
  auto grid = torch::full({c, rows * (h + pad) + pad, cols * (w + pad) + pad}, -1.0f);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, k = i % cols;
    grid.narrow(1, pad + r * (h + pad), h)
        .narrow(2, pad + k * (w + pad), w)
        .copy_(images[i].detach().to(torch::kCPU, torch::kFloat));
  }
  return to_hwc_u8(grid);
}

void write_png_grid(const torch::Tensor& images, const std::string& path) { save(grid_hwc_u8(images), path); }

void write_png(const torch::Tensor& image, const std::string& path) { save(to_hwc_u8(image), path); }

}  // namespace gantry::train

// Sample grids: images in [−1, 1] (N, C, H, W) tiled ⌈√N⌉ per row with a
// 2-pixel border, written as an 8-bit PNG (stb_image_write), atomically.
#pragma once
#include <torch/torch.h>

#include <string>

namespace gantry::train {

// The grid as an (H, W, C) uint8 image.
torch::Tensor grid_hwc_u8(const torch::Tensor& images);
void write_png_grid(const torch::Tensor& images, const std::string& path);
void write_png(const torch::Tensor& image, const std::string& path);  // one (C, H, W) image

}  // namespace gantry::train

// Outputs of 2-D models (the mixture benchmarks): generated points as CSV or
// NumPy .npy (float32, shape (N, 2)), and a scatter plot PNG of the points over
// the mixture's modes (a red ring of radius 3σ — the high-quality radius of
// the mode-coverage metric — around each mode). All written atomically.
#pragma once
#include <torch/torch.h>

#include <string>

#include "common/mixture2d.h"

namespace gantry::train {

void write_points_csv(const torch::Tensor& points, const std::string& path);
void write_points_npy(const torch::Tensor& points, const std::string& path);
// Any tensor as a float32 C-order .npy of its shape (gantry sample's raw images).
void write_npy(const torch::Tensor& values, const std::string& path);
// `mixture` may have no centers (no modes drawn); the view spans the modes ± 1 (or the points).
void write_scatter_png(const torch::Tensor& points, const Mixture2D& mixture, const std::string& path, int size = 512);

// By extension: .csv, .npy or .png (scatter). Throws std::invalid_argument for another one.
void write_points(const torch::Tensor& points, const Mixture2D& mixture, const std::string& path);

}  // namespace gantry::train

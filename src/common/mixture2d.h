// The 2-D Gaussian mixtures of the mode-collapse benchmarks (VEEGAN,
// Srivastava et al. 2017; PacGAN, Lin et al. 2018; docs/EVALUATION.md,
// Metrics): equal weights, isotropic σ.
//   ring8:  8 modes on a circle of radius 2, σ = 0.02
//   grid25: 25 modes at {−4, −2, 0, 2, 4}², σ = 0.05
//   pacgan_ring8:  8 modes on a circle of radius 1, σ = 0.01 (PacGAN's
//                  synthetic_data_experiments/2DRing config)
//   pacgan_grid25: grid25's geometry under PacGAN's name (2DGrid config)
// data/ samples from them (training data), eval/ measures against them (mode
// coverage); both read the geometry from here.
#pragma once
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace gantry {

struct Mixture2D {
  std::string name;
  std::vector<std::array<double, 2>> centers;
  double sigma = 0;
};

inline Mixture2D ring8(const std::string& name = "ring8", double radius = 2.0, double sigma = 0.02) {
  Mixture2D m{name, {}, sigma};
  for (int i = 0; i < 8; ++i) {
    const double a = 2.0 * M_PI * i / 8;
    m.centers.push_back({radius * std::cos(a), radius * std::sin(a)});
  }
  return m;
}

inline Mixture2D grid25(const std::string& name = "grid25") {
  Mixture2D m{name, {}, 0.05};
  for (int i = -2; i <= 2; ++i)
    for (int j = -2; j <= 2; ++j) m.centers.push_back({2.0 * i, 2.0 * j});
  return m;
}

// The names mixture_by_name knows, for error messages.
inline constexpr const char* kMixtureNames = "ring8, grid25, pacgan_ring8, pacgan_grid25";

// Throws std::invalid_argument for an unknown name.
inline Mixture2D mixture_by_name(const std::string& name) {
  if (name == "ring8") return ring8();
  if (name == "grid25") return grid25();
  if (name == "pacgan_ring8") return ring8(name, 1.0, 0.01);
  if (name == "pacgan_grid25") return grid25(name);
  throw std::invalid_argument("unknown 2-D mixture '" + name + "' (" + kMixtureNames + ")");
}

}  // namespace gantry

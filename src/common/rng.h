// Counter-based randomness shared by every layer (src/common/: header-only,
// below dist/): every random choice of the data pipeline (epoch permutation,
// augmentation of one batch slot, synthetic content) and of the models
// (stochastic-deconvolution routes) is a pure function of integers such as
// (seed, epoch, position) or (seed, step, layer, sample), so it does not
// depend on thread scheduling, world size or the LibTorch version, and a
// resumed run makes exactly the choices an uninterrupted one would.
#pragma once
#include <cstdint>

namespace gantry {

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A key for a tuple of integers; different tuples give unrelated keys.
constexpr uint64_t key(uint64_t a, uint64_t b) { return mix64(mix64(a) ^ (b + 0x632BE59BD9B4E019ull)); }
constexpr uint64_t key(uint64_t a, uint64_t b, uint64_t c) { return key(key(a, b), c); }
constexpr uint64_t key(uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return key(key(a, b, c), d); }

// Sequential generator seeded by a key (SplitMix64).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) without modulo bias (Lemire 2019, multiply-shift with rejection).
  uint64_t below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace gantry

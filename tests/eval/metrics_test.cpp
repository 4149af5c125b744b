// eval/ metrics against hand-derived cases and independent Python-torch
// computations (tests/eval/reference.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/mixture2d.h"
#include "data/mixture_source.h"
#include "eval/diversity.h"
#include "eval/feature_net.h"
#include "eval/fid.h"
#include "eval/inception_score.h"
#include "eval/mode_coverage.h"
#include "models/python_reference.h"

namespace gantry::eval {
namespace {

namespace fs = std::filesystem;
using test::close;
using test::python_reference;

torch::Tensor spd(int64_t n, double shift) {
  const auto a = torch::randn({n, n}, torch::kDouble);
  return a.matmul(a.t()) + shift * torch::eye(n, torch::kDouble);
}

TEST(Fid, OfAFeatureSetWithItselfIsZero) {
  torch::manual_seed(1);
  const auto x = torch::randn({400, 16}, torch::kDouble) * torch::linspace(0.1, 3, 16, torch::kDouble);
  const auto s = feature_stats(x);
  const auto r = frechet_distance(s, s);
  EXPECT_NEAR(r.fid, 0.0, 1e-8);
  EXPECT_FALSE(r.eps_retry);
  // A shifted copy: only the mean term remains.
  const auto shifted = feature_stats(x + 0.5);
  EXPECT_NEAR(frechet_distance(s, shifted).fid, 16 * 0.25, 1e-8);
}

TEST(Fid, DiagonalGaussiansMatchTheClosedForm) {
  // Commuting covariances: FID = ‖μ1 − μ2‖² + Σ_i (√a_i − √b_i)².
  const auto a = torch::tensor({1.0, 4.0, 9.0, 0.25}, torch::kDouble),
             b = torch::tensor({4.0, 1.0, 9.0, 1.0}, torch::kDouble);
  FeatureStats s1{torch::tensor({0.0, 1.0, 2.0, 3.0}, torch::kDouble), torch::diag(a), 10};
  FeatureStats s2{torch::tensor({1.0, 1.0, 0.0, 3.0}, torch::kDouble), torch::diag(b), 10};
  const double expected = (1 + 0 + 4 + 0) + (1 + 1 + 0 + 0.25);
  EXPECT_NEAR(frechet_distance(s1, s2).fid, expected, 1e-10);
}

TEST(Fid, GeneralGaussiansMatchTheSymmetricFormInPython) {
  torch::manual_seed(2);
  for (int64_t n : {2, 7, 32}) {
    const auto m1 = torch::randn({n}, torch::kDouble), m2 = torch::randn({n}, torch::kDouble);
    const auto s1 = spd(n, 0.1), s2 = spd(n, 0.5);
    const auto ref = python_reference("fid", {{"m1", m1}, {"m2", m2}, {"s1", s1}, {"s2", s2}}, "eval/reference.py");
    const auto r = frechet_distance({m1, s1, 100}, {m2, s2, 100});
    EXPECT_TRUE(close(torch::tensor(r.fid, torch::kDouble), ref.at("fid"), "fid n=" + std::to_string(n), 1e-9, 1e-9));
  }
}

TEST(Fid, StatisticsAreMeanAndUnbiasedCovariance) {
  torch::manual_seed(3);
  const auto x = torch::randn({50, 5}, torch::kFloat) * 2 + 1;
  const auto s = feature_stats(x);
  const auto ref = python_reference("stats", {{"x", x}}, "eval/reference.py");
  EXPECT_TRUE(close(s.mean, ref.at("mean"), "mean", 1e-6, 1e-6));
  EXPECT_TRUE(close(s.cov, ref.at("cov"), "cov", 1e-6, 1e-6));
  EXPECT_EQ(s.count, 50);
  EXPECT_THROW(feature_stats(x.narrow(0, 0, 1)), std::invalid_argument);
}

TEST(Fid, SamplesOfAKnownGaussianConverge) {
  // 200k samples of N(μ, Σ) against the exact (μ, Σ): FID → 0 (sampling error only).
  torch::manual_seed(4);
  const auto cov = spd(3, 0.5), mean = torch::tensor({1.0, -2.0, 0.5}, torch::kDouble);
  const auto chol = torch::linalg_cholesky(cov);
  const auto x = torch::randn({200000, 3}, torch::kDouble).matmul(chol.t()) + mean;
  EXPECT_LT(frechet_distance(feature_stats(x), {mean, cov, 0}).fid, 0.01 * cov.trace().item<double>());
}

TEST(Fid, ImaginaryAndNonFiniteSquareRootsAreErrors) {
  // Not a covariance: Σ1Σ2 has eigenvalue −1, so its square root's diagonal is imaginary.
  FeatureStats s1{torch::zeros({2}, torch::kDouble), torch::eye(2, torch::kDouble), 2};
  FeatureStats s2{torch::zeros({2}, torch::kDouble), torch::diag(torch::tensor({-1.0, 1.0}, torch::kDouble)), 2};
  EXPECT_THROW(frechet_distance(s1, s2), std::runtime_error);
  s2.cov = torch::full({2, 2}, std::nan(""), torch::kDouble);
  EXPECT_THROW(frechet_distance(s1, s2), std::runtime_error);
  s2.cov = torch::eye(3, torch::kDouble);
  s2.mean = torch::zeros({3}, torch::kDouble);
  EXPECT_THROW(frechet_distance(s1, s2), std::runtime_error);
}

TEST(Fid, RankDeficientCovariancesStayFinite) {
  // Fewer samples than features: singular covariances, as with a small --count.
  torch::manual_seed(5);
  const auto a = feature_stats(torch::randn({6, 20}, torch::kDouble));
  const auto b = feature_stats(torch::randn({6, 20}, torch::kDouble) + 0.1);
  const auto r = frechet_distance(a, b);
  EXPECT_TRUE(std::isfinite(r.fid));
  EXPECT_GT(r.fid, 0);
}

TEST(Fid, StatisticsFilesRoundTripAndDetectDamage) {
  const fs::path dir = fs::temp_directory_path() / ("gantry-stats-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  torch::manual_seed(6);
  const auto s = feature_stats(torch::randn({30, 4}, torch::kDouble));
  save_stats(dir / "a.stats", s, {{"data", "x.h5"}, {"count", "30"}});
  std::map<std::string, std::string> meta;
  const auto back = load_stats(dir / "a.stats", &meta);
  EXPECT_TRUE(torch::equal(back.mean, s.mean));
  EXPECT_TRUE(torch::equal(back.cov, s.cov));
  EXPECT_EQ(back.count, 30);
  EXPECT_EQ(meta.at("data"), "x.h5");
  EXPECT_FALSE(fs::exists(dir / ".a.stats.partial"));
  // Flip bytes in the middle (tensor data): the checksum or the archive reader must notice.
  {
    std::fstream f(dir / "a.stats", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto size = static_cast<int64_t>(f.tellg());
    bool detected = false;
    for (int64_t at = size / 4; at < size * 3 / 4 && !detected; at += size / 16) {
      f.seekg(at);
      char c;
      f.read(&c, 1);
      f.seekp(at);
      const char flipped = static_cast<char>(c ^ 0x5A);
      f.write(&flipped, 1);
      f.flush();
      try {
        // A load that succeeds must have returned the intact numbers (the flip hit unused bytes).
        const auto damaged = load_stats(dir / "a.stats");
        ASSERT_TRUE(torch::equal(damaged.cov, s.cov) && torch::equal(damaged.mean, s.mean))
            << "undetected damage at " << at;
      } catch (const std::invalid_argument&) {
        detected = true;
      }
      f.seekp(at);
      f.write(&c, 1);
      f.flush();
    }
    EXPECT_TRUE(detected);
  }
  std::ofstream(dir / "junk.stats") << "not a zip";
  EXPECT_THROW(load_stats(dir / "junk.stats"), std::invalid_argument);
  EXPECT_THROW(load_stats(dir / "missing.stats"), std::invalid_argument);
  fs::remove_all(dir);
}

TEST(InceptionScore, UniformOneHotOverKClassesIsK) {
  for (int64_t k : {2, 5, 10}) {
    const auto labels =
        torch::arange(k * 20, torch::kLong).remainder(k);  // every split of 2k rows holds each class twice
    const auto probs = torch::one_hot(labels, k).to(torch::kDouble);
    const auto s = inception_score(probs, 10);
    EXPECT_NEAR(s.mean, static_cast<double>(k), 1e-9) << k;
    EXPECT_NEAR(s.std, 0.0, 1e-9) << k;
  }
}

TEST(InceptionScore, ConstantPredictionIsOne) {
  const auto probs = torch::softmax(torch::randn({1, 7}), 1).expand({100, 7}).contiguous();
  const auto s = inception_score(probs, 10);
  EXPECT_NEAR(s.mean, 1.0, 1e-6);
  EXPECT_NEAR(s.std, 0.0, 1e-6);
}

TEST(InceptionScore, MatchesExplicitLoopsInPython) {
  torch::manual_seed(7);
  const auto probs = torch::softmax(torch::randn({103, 6}, torch::kDouble) * 2, 1);
  const auto ref =
      python_reference("inception_score", {{"probs", probs}, {"splits", torch::tensor(4)}}, "eval/reference.py");
  const auto s = inception_score(probs, 4);
  EXPECT_TRUE(close(torch::tensor(s.mean, torch::kDouble), ref.at("mean"), "IS mean", 1e-9, 1e-12));
  EXPECT_TRUE(close(torch::tensor(s.std, torch::kDouble), ref.at("std"), "IS std", 1e-9, 1e-12));
}

TEST(InceptionScore, RejectsNonProbabilities) {
  EXPECT_THROW(inception_score(torch::ones({20, 3}), 2), std::invalid_argument);
  EXPECT_THROW(inception_score(torch::full({3, 2}, 0.5), 10), std::invalid_argument);
}

torch::Tensor at_centers(const Mixture2D& m, const std::vector<int64_t>& per_mode) {
  std::vector<torch::Tensor> rows;
  for (size_t k = 0; k < m.centers.size(); ++k)
    for (int64_t i = 0; i < per_mode[k]; ++i)
      rows.push_back(torch::tensor({m.centers[k][0], m.centers[k][1]}, torch::kDouble));
  return torch::stack(rows);
}

TEST(ModeCoverage, AllModesOneModeAndOutliers) {
  for (const auto& m : {ring8(), grid25()}) {
    const int64_t k = static_cast<int64_t>(m.centers.size());
    auto all = mode_coverage(at_centers(m, std::vector<int64_t>(k, 10)), m);
    EXPECT_EQ(all.modes_captured, k);
    EXPECT_EQ(all.modes_total, k);
    EXPECT_DOUBLE_EQ(all.high_quality_share, 1.0);
    EXPECT_NEAR(all.kl_from_uniform, 0.0, 1e-12);

    std::vector<int64_t> one(k, 0);
    one[3] = 50;
    auto collapsed = mode_coverage(at_centers(m, one), m);
    EXPECT_EQ(collapsed.modes_captured, 1);
    EXPECT_NEAR(collapsed.kl_from_uniform, std::log(static_cast<double>(k)), 1e-12);  // KL(δ ‖ U) = log K
    EXPECT_EQ(collapsed.histogram[3], 50);

    // Half the points far from every mode (and one non-finite): they lower the
    // high-quality share, not the coverage or the histogram's KL.
    auto good = at_centers(m, std::vector<int64_t>(k, 2));
    auto far = torch::full({2 * k - 1, 2}, 100.0, torch::kDouble);
    auto nan = torch::full({1, 2}, std::nan(""), torch::kDouble);
    auto mixed = mode_coverage(torch::cat({good, far, nan}), m);
    EXPECT_EQ(mixed.modes_captured, k);
    EXPECT_DOUBLE_EQ(mixed.high_quality_share, 0.5);
    EXPECT_NEAR(mixed.kl_from_uniform, 0.0, 1e-12);

    // Two modes with 3 and 1 points: KL = ¾ log(K·¾) + ¼ log(K·¼).
    std::vector<int64_t> two(k, 0);
    two[0] = 3;
    two[1] = 1;
    const double kd = static_cast<double>(k);
    EXPECT_NEAR(mode_coverage(at_centers(m, two), m).kl_from_uniform,
                0.75 * std::log(kd * 0.75) + 0.25 * std::log(kd * 0.25), 1e-12);

    // The 3σ boundary: just inside counts, just outside does not.
    const auto c = m.centers[0];
    auto inside = torch::tensor({{c[0] + 2.999 * m.sigma, c[1]}}, torch::kDouble);
    auto outside = torch::tensor({{c[0], c[1] + 3.001 * m.sigma}}, torch::kDouble);
    EXPECT_EQ(mode_coverage(inside, m).modes_captured, 1);
    EXPECT_EQ(mode_coverage(outside, m).modes_captured, 0);
    EXPECT_TRUE(std::isnan(mode_coverage(outside, m).kl_from_uniform));
  }
}

TEST(ModeCoverage, TrueSamplesCoverEveryModeWithTheGaussianShare) {
  // Real data: all modes, and the 2-D Gaussian mass within 3σ, 1 − e^{−9/2} ≈ 0.9889.
  for (const auto& m : {ring8(), grid25()}) {
    const auto x = data::mixture_samples(m, 11, 0, 50000);
    const auto r = mode_coverage(x, m);
    EXPECT_EQ(r.modes_captured, static_cast<int64_t>(m.centers.size()));
    EXPECT_NEAR(r.high_quality_share, 1 - std::exp(-4.5), 0.003) << m.name;
    EXPECT_LT(r.kl_from_uniform, 0.01) << m.name;
  }
}

TEST(MixtureSource, SamplesArePureFunctionsOfTheirIndex) {
  const auto m = grid25();
  const auto all = data::mixture_samples(m, 5, 0, 100);
  EXPECT_TRUE(torch::equal(all.narrow(0, 40, 30), data::mixture_samples(m, 5, 40, 30)));
  EXPECT_FALSE(torch::equal(all, data::mixture_samples(m, 6, 0, 100)));
  // Two ranks' batches are the two halves of one rank's batch, and the position resumes.
  data::MixtureSource one(m, 5, 8, 0, 1, {}, torch::kCPU), r0(m, 5, 8, 0, 2, {}, torch::kCPU),
      r1(m, 5, 8, 1, 2, {}, torch::kCPU);
  one.next();
  r0.next();
  r1.next();
  const auto b = one.next();
  EXPECT_TRUE(torch::equal(b.images, torch::cat({r0.next().images, r1.next().images})));
  data::MixtureSource resumed(m, 5, 8, 0, 1, one.state(), torch::kCPU);
  EXPECT_TRUE(torch::equal(one.next().images, resumed.next().images));
  EXPECT_THROW(data::MixtureSource(m, 5, 9, 0, 2, {}, torch::kCPU), std::invalid_argument);
  EXPECT_THROW(mixture_by_name("ring9"), std::invalid_argument);
}

// JSD(p, u) by its definition, with m = (p + u)/2, natural log, 0 log 0 = 0.
double jsd_by_hand(const std::vector<double>& p) {
  const double u = 1.0 / static_cast<double>(p.size());
  double a = 0, b = 0;
  for (double pi : p) {
    const double m = 0.5 * (pi + u);
    if (pi > 0) a += pi * std::log(pi / m);
    b += u * std::log(u / m);
  }
  return 0.5 * a + 0.5 * b;
}

TEST(ModeCoverage, JensenShannonOfTheModeHistogram) {
  for (const auto& m : {ring8(), grid25(), mixture_by_name("pacgan_ring8")}) {
    const int64_t k = static_cast<int64_t>(m.centers.size());
    const double kd = static_cast<double>(k);
    EXPECT_NEAR(mode_coverage(at_centers(m, std::vector<int64_t>(k, 7)), m).jsd_from_uniform, 0.0, 1e-12);
    // One mode: ½ log(2/(1 + 1/K)) + ½ [(1/K) log(2/(K + 1)) + (K − 1)/K · log 2], and by the general formula.
    std::vector<int64_t> one(k, 0);
    one[2] = 40;
    const double closed =
        0.5 * std::log(2 / (1 + 1 / kd)) + 0.5 * ((1 / kd) * std::log(2 / (kd + 1)) + (kd - 1) / kd * std::log(2.0));
    std::vector<double> delta(k, 0.0);
    delta[2] = 1;
    const double got = mode_coverage(at_centers(m, one), m).jsd_from_uniform;
    EXPECT_NEAR(got, closed, 1e-12) << m.name;
    EXPECT_NEAR(got, jsd_by_hand(delta), 1e-12);
    EXPECT_LT(got, std::log(2.0));  // JSD ≤ log 2
    // 3 : 1 in two modes.
    std::vector<int64_t> two(k, 0);
    two[0] = 3;
    two[1] = 1;
    std::vector<double> p(k, 0.0);
    p[0] = 0.75;
    p[1] = 0.25;
    EXPECT_NEAR(mode_coverage(at_centers(m, two), m).jsd_from_uniform, jsd_by_hand(p), 1e-12);
    // No high-quality point: undefined.
    EXPECT_TRUE(std::isnan(mode_coverage(torch::full({3, 2}, 50.0, torch::kDouble), m).jsd_from_uniform));
  }
}

TEST(Mixture2D, PacganGeometry) {
  // PacGAN's synthetic_data_experiments configs: ring of 8 at radius 1, σ 0.01; grid {−4..4 step 2}², σ 0.05.
  const auto ring = mixture_by_name("pacgan_ring8");
  ASSERT_EQ(ring.centers.size(), 8u);
  EXPECT_DOUBLE_EQ(ring.sigma, 0.01);
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(ring.centers[i][0], std::cos(2 * M_PI * i / 8), 1e-15);
    EXPECT_NEAR(ring.centers[i][1], std::sin(2 * M_PI * i / 8), 1e-15);
  }
  const auto grid = mixture_by_name("pacgan_grid25");
  EXPECT_EQ(grid.centers, grid25().centers);
  EXPECT_DOUBLE_EQ(grid.sigma, 0.05);
  EXPECT_EQ(grid.name, "pacgan_grid25");
}

TEST(Mixture2D, CentersTensorHoldsEveryModeInOrder) {
  // The grid written out by hand (row-major over x then y), and the PacGAN ring at radius 1.
  const auto grid = mixture_centers(mixture_by_name("pacgan_grid25"));
  ASSERT_EQ(grid.dtype(), torch::kDouble);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{25, 2}));
  int row = 0;
  for (double x : {-4.0, -2.0, 0.0, 2.0, 4.0})
    for (double y : {-4.0, -2.0, 0.0, 2.0, 4.0}) {
      EXPECT_EQ(grid[row][0].item<double>(), x) << row;
      EXPECT_EQ(grid[row][1].item<double>(), y) << row;
      ++row;
    }
  const auto ring = mixture_centers(mixture_by_name("pacgan_ring8"));
  ASSERT_EQ(ring.sizes(), (std::vector<int64_t>{8, 2}));
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(ring[i][0].item<double>(), std::cos(M_PI / 4 * i), 1e-15);
    EXPECT_NEAR(ring[i][1].item<double>(), std::sin(M_PI / 4 * i), 1e-15);
  }
}

TEST(MixtureSource, FixedPoolIsReshuffledEveryEpoch) {
  const auto m = mixture_by_name("pacgan_ring8");
  constexpr int64_t kPool = 60, kBatch = 12;
  const auto pool = data::mixture_samples(m, 9, 0, kPool);
  data::MixtureSource src(m, 9, kBatch, 0, 1, {}, torch::kCPU, kPool);
  std::vector<std::vector<int64_t>> epochs(3);
  for (auto& e : epochs)
    for (int i = 0; i < kPool / kBatch; ++i) {
      const auto b = src.next();
      // Each sample is pool point `index`, as float32 of the float64 pool.
      EXPECT_TRUE(torch::equal(b.images, pool.index_select(0, b.indices).to(torch::kFloat)));
      for (int64_t j = 0; j < b.indices.size(0); ++j) e.push_back(b.indices[j].item<int64_t>());
    }
  for (const auto& e : epochs) {  // every point exactly once per epoch
    auto sorted = e;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < kPool; ++i) EXPECT_EQ(sorted[i], i);
  }
  EXPECT_NE(epochs[0], epochs[1]);  // reshuffled
  EXPECT_NE(epochs[1], epochs[2]);
  // Rank slicing and resume: two ranks' halves make the 1-rank batch, also across an epoch boundary.
  data::MixtureSource one(m, 9, kBatch, 0, 1, {}, torch::kCPU, kPool), r0(m, 9, kBatch, 0, 2, {}, torch::kCPU, kPool),
      r1(m, 9, kBatch, 1, 2, {}, torch::kCPU, kPool);
  for (int i = 0; i < 7; ++i) {
    const auto b = one.next();
    EXPECT_TRUE(torch::equal(b.images, torch::cat({r0.next().images, r1.next().images}))) << i;
  }
  EXPECT_EQ(one.state().epoch, 1);
  data::MixtureSource resumed(m, 9, kBatch, 0, 1, one.state(), torch::kCPU, kPool);
  EXPECT_TRUE(torch::equal(one.next().images, resumed.next().images));
  // A batch larger than the pool, or a position outside it, is refused.
  EXPECT_THROW(data::MixtureSource(m, 9, 64, 0, 1, {}, torch::kCPU, kPool), std::invalid_argument);
  EXPECT_THROW(data::MixtureSource(m, 9, kBatch, 0, 1, {0, kPool + 1}, torch::kCPU, kPool), std::invalid_argument);
}

TEST(Diversity, MeanPairwiseDistanceOfAHandCase) {
  // (0,0), (3,4), (0,4): distances 5, 3, 4 → mean 4.
  EXPECT_NEAR(mean_pairwise_distance(torch::tensor({{0.0, 0.0}, {3.0, 4.0}, {0.0, 4.0}})), 4.0, 1e-6);
  // Identical samples: 0. More rows than one block: against a direct computation.
  EXPECT_NEAR(mean_pairwise_distance(torch::ones({700, 3})), 0.0, 1e-6);
  torch::manual_seed(8);
  const auto x = torch::randn({1100, 5}, torch::kDouble);
  const auto d = torch::cdist(x, x);
  EXPECT_NEAR(mean_pairwise_distance(x), d.sum().item<double>() / (1100.0 * 1099.0), 1e-6);
}

class FeatureNets : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("gantry-nets-" + std::to_string(::getpid()));
    const char* py = std::getenv("GANTRY_PYTHON");
    ASSERT_TRUE(py && *py) << "GANTRY_PYTHON is not set (ctest sets it)";
    const std::string cmd = std::string(py) + " " GANTRY_TEST_SOURCE_DIR "/eval/reference.py modules " + dir_.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static fs::path dir_;
};
fs::path FeatureNets::dir_;

TEST_F(FeatureNets, GenericModuleGivesFeaturesOnly) {
  FeatureNet net(dir_ / "generic.pt", torch::kCPU);
  EXPECT_FALSE(net.stylegan());
  EXPECT_FALSE(net.classifies());
  EXPECT_EQ(net.feature_space(), "generic");
  const auto x = torch::rand({5, 2, 4, 4}) * 2 - 1;
  const auto out = net.forward(x);
  EXPECT_TRUE(torch::allclose(out.features, torch::cat({x.mean({2, 3}), x.amax({2, 3})}, 1)));
  EXPECT_FALSE(out.probs.defined());
  EXPECT_EQ(net.digest().size(), 16u);
}

TEST_F(FeatureNets, TupleModuleClassifiesWithItsFeatureSpace) {
  FeatureNet net(dir_ / "classifying.pt", torch::kCPU);
  EXPECT_TRUE(net.classifies());
  EXPECT_EQ(net.feature_space(), "TOY");
  EXPECT_EQ(metric_label("FID", net.feature_space()), "FID-TOY");
  const auto x = torch::rand({3, 3, 4, 4}) * 2 - 1;
  const auto out = net.forward(x);
  const auto f = torch::cat({x.mean({2, 3}), x.amax({2, 3})}, 1);
  const auto w = torch::arange(12, torch::kFloat).reshape({2, 6}) / 10;
  EXPECT_TRUE(torch::allclose(out.features, f));
  EXPECT_TRUE(torch::allclose(out.probs, torch::softmax(f.matmul(w.t()), 1), 1e-5, 1e-6));
  // One channel gives 2 features, which its 6-input weight rejects: one clear error line.
  EXPECT_THROW(net.forward(torch::rand({3, 1, 4, 4})), std::runtime_error);
}

TEST_F(FeatureNets, StyleGanConventionGetsUint8RgbAndKwargs) {
  FeatureNet net(dir_ / "stylegan.pt", torch::kCPU);
  EXPECT_TRUE(net.stylegan());
  EXPECT_TRUE(net.classifies());
  EXPECT_EQ(net.feature_space(), "");
  EXPECT_EQ(metric_label("FID", net.feature_space()), "FID");
  const auto grey = torch::rand({4, 1, 6, 6}) * 2 - 1;
  const auto out = net.forward(grey);
  const auto u8 = grey.mul(127.5).add(128).clamp(0, 255).to(torch::kUInt8).to(torch::kFloat);
  const auto expected = u8.mean({2, 3}).repeat({1, 3});
  EXPECT_TRUE(torch::allclose(out.features, expected, 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(out.probs, torch::softmax(expected / 255.0, 1), 1e-5, 1e-6));
}

TEST_F(FeatureNets, MissingOrForeignFilesAreBadInput) {
  EXPECT_THROW(FeatureNet(dir_ / "missing.pt", torch::kCPU), std::invalid_argument);
  std::ofstream(dir_ / "junk.pt") << "junk";
  EXPECT_THROW(FeatureNet(dir_ / "junk.pt", torch::kCPU), std::invalid_argument);
}

}  // namespace
}  // namespace gantry::eval

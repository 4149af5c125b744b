// CUDA against CPU: every architecture and every regularizer computes the same
// on the GPU as on the CPU for the same weights and inputs — forward values,
// gradients of every parameter, and buffers (BN running statistics, spectral-norm
// vectors) after the step.
//
// Method: each module is built twice on the CPU from the same seed; one copy is
// moved to the GPU and every named parameter and buffer of the CPU copy is then
// copied into it, so both hold identical state whatever the construction RNG did.
// Inputs are drawn on the CPU (a seeded CPU generator) and copied to the GPU.
// TF32 is switched off and cuDNN made deterministic, so the two devices differ
// only by the rounding of their kernels.
//
// Discrepancy of a tensor pair: max|cpu − gpu| / max(1, max|cpu|), on the host
// in float64. Tolerances (measured on the CPU when this file was written):
//   float64, every case: 1e-9. Two CPU runs summing in different orders
//     (contiguous vs channels_last) differ by at most 4e-14.
//   float32, networks only: forward values and buffers 1e-4 (float32 against
//     float64: at most 6e-6). Gradients 1e-1, a gross-error check only: float32
//     gradients of these networks are off by up to 3e-2 against float64 (kinks of
//     ReLU / LeakyReLU flipped by rounding, cancellation in BN / VBN / LN backward),
//     so any two float32 implementations differ by that much; float64 is the
//     precise check.
// Synchronized batch norm needs a communicator and is tested with the
// distributed tests.
//
// Without a visible GPU every test skips (CI); run on a GPU machine.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "models/networks.h"
#include "reg/consistency.h"
#include "reg/direal.h"
#include "train/ema.h"
#include "train/losses.h"
#include "reg/feature_matching.h"
#include "reg/gradient_normalization.h"
#include "reg/gradient_penalties.h"
#include "reg/historical_averaging.h"
#include "reg/split_loss.h"

using gantry::models::Discriminator;
using gantry::models::Generator;
using gantry::models::ModelConfig;
using gantry::models::NormKind;
using gantry::models::WeightNorm;
namespace reg = gantry::reg;

namespace {

constexpr double kTol64 = 1e-9;
constexpr double kTol32 = 1e-4;           // float32 forward values and buffers
constexpr double kTol32Gradients = 1e-1;  // float32 gradients (see above)

// GANTRY_CUDA_TESTS_ON_CPU=1 runs these tests with the CPU in the GPU's place:
// a check of the tests' own logic (shapes, calls) where there is no GPU.
bool logic_check_on_cpu() {
  const char* v = std::getenv("GANTRY_CUDA_TESTS_ON_CPU");
  return v != nullptr && std::string(v) == "1";
}
// The device compared with the CPU.
const torch::Device kDevice = logic_check_on_cpu() ? torch::Device(torch::kCPU) : torch::Device(torch::kCUDA, 0);

// TF32 would make CUDA matmuls and convs differ from the CPU by ~1e-3; nondeterministic
// cuDNN algorithms would make a failure irreproducible.
void strict_cuda_math() {
  auto& ctx = at::globalContext();
  ctx.setAllowTF32CuBLAS(false);
  ctx.setAllowTF32CuDNN(false);
  ctx.setDeterministicCuDNN(true);
  ctx.setBenchmarkCuDNN(false);
}

#define REQUIRE_CUDA()                                                 \
  if (!torch::cuda::is_available() && !logic_check_on_cpu())           \
    GTEST_SKIP() << "no CUDA GPU visible: CUDA parity checks skipped"; \
  if (kDevice.is_cuda()) strict_cuda_math()

// A copy of a host tensor on the compared device (dev) or on the CPU: always a new tensor, so
// each side's requires_grad_ makes its own leaf and never touches the shared host tensor.
torch::Tensor put(bool dev, const torch::Tensor& host) {
  return dev ? host.to(kDevice, host.scalar_type(), /*non_blocking=*/false, /*copy=*/true) : host.clone();
}
void to_device(torch::nn::Module& m, torch::Dtype dt) { m.to(kDevice, dt); }

// Inputs: drawn in float64 from a seeded CPU generator, then rounded to dt (so the
// float32 cases see the float64 cases' values).
torch::Generator host_gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }
torch::Tensor host_normal(at::IntArrayRef shape, uint64_t seed, torch::Dtype dt = torch::kFloat64) {
  return torch::randn(shape, host_gen(seed), torch::kFloat64).to(dt);
}
torch::Tensor host_uniform(at::IntArrayRef shape, uint64_t seed, torch::Dtype dt = torch::kFloat64) {
  return torch::rand(shape, host_gen(seed), torch::kFloat64).to(dt);
}

using Named = std::vector<std::pair<std::string, torch::Tensor>>;

Named gradients(const torch::nn::Module& m) {
  Named out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value().grad());
  return out;
}
Named parameters(const torch::nn::Module& m) {
  Named out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}
Named buffers(const torch::nn::Module& m) {
  Named out;
  for (const auto& b : m.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

// Every parameter and buffer of `from` into the same-named tensor of `to` (any device, dtype).
void copy_state(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto copy = [](const torch::OrderedDict<std::string, torch::Tensor>& src,
                 torch::OrderedDict<std::string, torch::Tensor> dst, const std::string& kind) {
    if (src.size() != dst.size()) throw std::logic_error("copy_state: different " + kind + " lists");
    for (const auto& s : src) {
      torch::Tensor* d = dst.find(s.key());
      if (!d || d->sizes() != s.value().sizes())
        throw std::logic_error("copy_state: " + kind + " " + s.key() + " differs");
      d->copy_(s.value());
    }
  };
  copy(from.named_parameters(), to.named_parameters(), "parameter");
  copy(from.named_buffers(), to.named_buffers(), "buffer");
}

// max|cpu − dev| / max(1, max|cpu|) on the host in float64; +inf for a shape mismatch or NaN.
double discrepancy(const torch::Tensor& cpu, const torch::Tensor& dev) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const auto a = cpu.detach().to(torch::kCPU, torch::kFloat64);
  const auto b = dev.detach().to(torch::kCPU, torch::kFloat64);
  if (a.sizes() != b.sizes()) return kInf;
  if (a.numel() == 0) return 0.0;
  const double scale = std::max(1.0, a.abs().max().item<double>());
  const double d = (a - b).abs().max().item<double>() / scale;
  return std::isnan(d) ? kInf : d;
}

// Same names in the same order; undefined (no gradient) must be undefined on both sides;
// the device side must live on the device. Names the worst tensor on failure.
void expect_close(const Named& cpu, const Named& dev, double tol, const std::string& what) {
  ASSERT_EQ(cpu.size(), dev.size()) << what << ": different tensor lists";
  std::string worst;
  double worst_err = -1;
  std::ostringstream bad;
  int n_bad = 0, n_compared = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const auto& [name, a] = cpu[i];
    const auto& b = dev[i].second;
    ASSERT_EQ(name, dev[i].first) << what;
    if (a.defined() != b.defined()) {
      ADD_FAILURE() << what << ": " << name << " is defined on " << (a.defined() ? "the CPU" : "the device") << " only";
      continue;
    }
    if (!a.defined()) continue;
    EXPECT_TRUE(a.device().is_cpu()) << what << ": " << name << " left the CPU";
    EXPECT_EQ(b.device(), kDevice) << what << ": " << name << " is not on the compared device";
    const double e = discrepancy(a, b);
    ++n_compared;
    if (e > worst_err) {
      worst_err = e;
      worst = name;
    }
    if (!(e <= tol)) {
      ++n_bad;
      bad << " " << name << " (" << e << ")";
    }
  }
  EXPECT_EQ(n_bad, 0) << what << ": " << n_bad << " of " << n_compared << " tensors differ by more than " << tol
                      << " of max(1, max|cpu|); worst " << worst << " at " << worst_err << ";" << bad.str();
}

// One side of a comparison: runs on the CPU (false) or on the device (true) and returns named results.
using Side = std::function<Named(bool dev)>;
void expect_same_on_both(const Side& side, double tol, const std::string& what) {
  const auto a = side(false);
  const auto b = side(true);
  expect_close(a, b, tol, what);
}

// A module on the CPU (in dt) and its identical twin on the device.
template <class Net>
struct Twin {
  std::shared_ptr<Net> cpu, dev;
  Net& on(bool d) const { return d ? *dev : *cpu; }
};
template <class Net>
Twin<Net> twin(const std::function<std::shared_ptr<Net>()>& build, torch::Dtype dt, uint64_t seed = 1234) {
  torch::manual_seed(seed);
  auto a = build();
  torch::manual_seed(seed);
  auto b = build();
  a->to(dt);
  to_device(*b, dt);
  copy_state(*a, *b);  // identical whatever the construction RNG did
  return {a, b};
}
Twin<Generator> twin_g(const ModelConfig& c, torch::Dtype dt, uint64_t seed = 1234) {
  return twin<Generator>([&] { return gantry::models::build_generator(c); }, dt, seed);
}
Twin<Discriminator> twin_d(const ModelConfig& c, torch::Dtype dt, uint64_t seed = 4321) {
  return twin<Discriminator>([&] { return gantry::models::build_discriminator(c); }, dt, seed);
}

// Adds the same seeded noise to every parameter of m, on m's device and dtype.
void perturb(torch::nn::Module& m, uint64_t seed, double scale) {
  torch::NoGradGuard no_grad;
  uint64_t i = 0;
  for (auto& p : m.named_parameters()) {
    auto t = p.value();
    t.add_(host_normal(t.sizes(), seed * 1000 + i++).to(t.device(), t.scalar_type()) * scale);
  }
}

torch::Tensor host_images(const ModelConfig& c, int64_t batch, uint64_t seed, torch::Dtype dt = torch::kFloat64) {
  if (c.arch == gantry::models::Arch::kMlp) return host_normal({batch, c.data_dim}, seed, dt) * 2;
  return host_uniform({batch, c.channels, c.resolution, c.resolution}, seed, dt) * 2 - 1;
}

// G on z, D on G's output and on a real batch (train mode: BN batch statistics, SN power
// iteration), a loss mixing logits, features and (stochastic deconvolution) the split loss,
// backward. Returns every value computed on the way and D's input gradient.
struct NetRun {
  Named values, input_gradient;
};
NetRun run_networks(Generator& g, Discriminator& d, const torch::Tensor& z, const torch::Tensor& real) {
  g.train();
  d.train();
  g.set_route_context({7, 0});  // identical route draws on both devices (a function of integers)
  auto x = g.forward(z);
  x.retain_grad();  // D's input gradient: the path every G update takes
  Named out = {{"G(z)", x}};
  const auto maps = g.split_maps();
  for (size_t i = 0; i < maps.size(); ++i) out.emplace_back("split_map" + std::to_string(i), maps[i]);
  const auto fake = d.forward(x);
  const auto real_out = d.forward(real);
  auto loss = fake.logits.sum() + 0.5 * fake.features.square().mean() - 0.7 * real_out.logits.sum() +
              0.25 * real_out.features.square().mean();
  if (!maps.empty()) {
    const auto s = reg::split_loss(maps, reg::split_loss_weights(maps.size()));
    out.emplace_back("split_loss", s);
    loss = loss + s;
  }
  out.insert(out.end(), {{"D(G(z)).logits", fake.logits},
                         {"D(G(z)).features", fake.features},
                         {"D(real).logits", real_out.logits},
                         {"D(real).features", real_out.features},
                         {"loss", loss}});
  loss.backward();
  return {out, {{"dloss/dG(z)", x.grad()}}};
}

// The network comparison of one configuration in float64 and float32.
void check_networks(const ModelConfig& c, int64_t batch, const std::string& name) {
  for (const auto dt : {torch::kFloat64, torch::kFloat32}) {
    const double tol = dt == torch::kFloat64 ? kTol64 : kTol32;
    const double grad_tol = dt == torch::kFloat64 ? kTol64 : kTol32Gradients;
    const std::string what = name + " [" + c10::toString(dt) + "]";
    const auto g = twin_g(c, dt);
    const auto d = twin_d(c, dt);
    const auto z = host_normal({batch, c.z_dim}, 11, dt);
    const auto real = host_images(c, batch, 12, dt);
    const auto a = run_networks(*g.cpu, *d.cpu, put(false, z), put(false, real));
    const auto b = run_networks(*g.dev, *d.dev, put(true, z), put(true, real));
    if (c.arch == gantry::models::Arch::kSgan || c.mlp_banks > 0) {
      EXPECT_FALSE(g.cpu->split_maps().empty()) << what;
    }
    expect_close(a.values, b.values, tol, what + ": values");
    expect_close(a.input_gradient, b.input_gradient, grad_tol, what + ": D's input gradient");
    expect_close(gradients(*g.cpu), gradients(*g.dev), grad_tol, what + ": G gradients");
    expect_close(gradients(*d.cpu), gradients(*d.dev), grad_tol, what + ": D gradients");
    expect_close(buffers(*g.cpu), buffers(*g.dev), tol, what + ": G buffers after the step");
    expect_close(buffers(*d.cpu), buffers(*d.dev), tol, what + ": D buffers after the step");
  }
}

ModelConfig config(const std::string& arch, int64_t resolution) {
  ModelConfig c;
  c.arch = gantry::parse_enum<gantry::models::Arch>(arch);
  c.resolution = resolution;
  if (arch == "mlp") c.z_dim = 2;
  return c;
}

}  // namespace

// ---------------------------------------------------------------- architectures

TEST(CudaParity, Dcgan32) {
  REQUIRE_CUDA();
  check_networks(config("dcgan", 32), 4, "dcgan 32 (G bn, D sn)");
}

TEST(CudaParity, Dcgan64) {
  REQUIRE_CUDA();
  check_networks(config("dcgan", 64), 4, "dcgan 64 (G bn, D sn)");
}

TEST(CudaParity, SnganCnn32WithMinibatchDiscrimination) {
  REQUIRE_CUDA();
  auto c = config("sngan_cnn", 32);
  check_networks(c, 4, "sngan_cnn 32 (G bn, D sn)");
  c.mbd_kernels = 16;
  check_networks(c, 4, "sngan_cnn 32 (G bn, D sn + minibatch discrimination)");
}

TEST(CudaParity, Resnet32) {
  REQUIRE_CUDA();
  check_networks(config("resnet", 32), 4, "resnet 32 (G bn, D sn)");
}

TEST(CudaParity, Resnet128NarrowWidths) {
  REQUIRE_CUDA();
  // Every 128² stage at a quarter of the default widths: the layout is the architecture's, the CPU time small.
  auto c = config("resnet", 128);
  c.g_width = c.d_width = 16;
  check_networks(c, 2, "resnet 128 widths 16 (G bn, D sn)");
}

TEST(CudaParity, Sgan32StochasticDeconvolution) {
  REQUIRE_CUDA();
  // 4 filter sets, 6 samples: several sets chosen, maybe one not (its gradients undefined on both devices).
  auto c = config("sgan", 32);
  c.sdeconv_sets = 4;
  check_networks(c, 6, "sgan 32 (G bn, D sn)");
  c.g_norm = NormKind::kVirtualBatch;  // reference rows get routes too
  c.vbn_reference = 8;
  check_networks(c, 6, "sgan 32 (G vbn, D sn)");
}

TEST(CudaParity, Mlp) {
  REQUIRE_CUDA();
  check_networks(config("mlp", 0), 8, "mlp (G bn, D sn)");
  auto c = config("mlp", 0);
  c.mlp_banks = 1;  // SGAN for 2-D: a routed bank of linear filter sets
  c.sdeconv_sets = 4;
  c.g_norm = NormKind::kVirtualBatch;
  c.vbn_reference = 8;
  c.d_norm = NormKind::kBatch;
  c.d_weight_norm = WeightNorm::kWeight;
  c.mbd_kernels = 8;
  check_networks(c, 8, "mlp (G bank + vbn, D bn + wn + minibatch discrimination)");
}

// ---------------------------------------------------------------- normalisation variants

TEST(CudaParity, NormalisationVariantsDcgan32) {
  REQUIRE_CUDA();
  struct Variant {
    NormKind g_norm, d_norm;
    WeightNorm g_wn, d_wn;
    int64_t mbd;
    const char* name;
  };
  const std::vector<Variant> variants = {
      {NormKind::kLayer, NormKind::kBatch, WeightNorm::kWeight, WeightNorm::kWeight, 0, "G ln + wn, D bn + wn"},
      {NormKind::kVirtualBatch, NormKind::kLayer, WeightNorm::kSpectral, WeightNorm::kNone, 0, "G vbn + sn, D ln"},
      {NormKind::kNone, NormKind::kBatch, WeightNorm::kNone, WeightNorm::kSpectral, 16, "G none, D bn + sn + mbd"},
      {NormKind::kBatch, NormKind::kLayer, WeightNorm::kNone, WeightNorm::kWeight, 0, "G bn, D ln + wn"},
  };
  for (const auto& v : variants) {
    auto c = config("dcgan", 32);
    c.g_norm = v.g_norm;
    c.d_norm = v.d_norm;
    c.g_weight_norm = v.g_wn;
    c.d_weight_norm = v.d_wn;
    c.mbd_kernels = v.mbd;
    c.vbn_reference = 8;
    check_networks(c, 4, std::string("dcgan 32 ") + v.name);
  }
}

TEST(CudaParity, NormalisationVariantsResnet32) {
  REQUIRE_CUDA();
  auto c = config("resnet", 32);
  c.g_width = c.d_width = 32;
  c.g_norm = NormKind::kLayer;
  c.d_norm = NormKind::kLayer;
  c.d_weight_norm = WeightNorm::kWeight;
  check_networks(c, 4, "resnet 32 widths 32 (G ln, D ln + wn)");
  c.g_norm = NormKind::kVirtualBatch;
  c.vbn_reference = 8;
  c.d_norm = NormKind::kBatch;
  c.d_weight_norm = WeightNorm::kNone;
  check_networks(c, 4, "resnet 32 widths 32 (G vbn, D bn)");
}

// ---------------------------------------------------------------- regularizers (float64, tolerance 1e-9)

TEST(CudaParity, DirealLayerPenalty) {
  REQUIRE_CUDA();
  // A small matrix with near-parallel and near-antiparallel pairs (mixed mask at τ = 0.5), and a
  // random 64 × 288 matrix at τ = 0.1 (about 9 % of the pairs above τ).
  auto small = host_normal({6, 12}, 21);
  small[1] = small[0] * 2 + 0.3 * host_normal({12}, 22);
  small[4] = -small[2] + 0.4 * host_normal({12}, 23);
  const std::vector<std::pair<torch::Tensor, double>> cases = {{small, 0.5}, {host_normal({64, 288}, 24), 0.1}};
  for (const auto& [w, tau] : cases) {
    const std::string what = "DiReAL J " + std::to_string(w.size(0)) + "x" + std::to_string(w.size(1));
    expect_same_on_both(
        [&, &w = w, tau = tau](bool dev) {
          const auto x = put(dev, w).requires_grad_(true);
          const auto j = reg::direal_layer_penalty(x, tau);
          j.backward();
          if (!dev) {
            EXPECT_GT(j.item<double>(), 0) << "the mask selects no pair: nothing compared";
          }
          return Named{{"J", j}, {"dJ/dw", x.grad()}};
        },
        kTol64, what);
  }
}

TEST(CudaParity, DirealOverNetworkLayers) {
  REQUIRE_CUDA();
  reg::DirealOptions o;
  o.tau = 0.03;  // 0.02-normal filters have cosines of a few 1e-2: a mixed mask in every layer
  o.lambda = 0.1;
  for (const auto& c : {config("dcgan", 32), config("sgan", 32), config("resnet", 32), config("mlp", 0)}) {
    const std::string arch(gantry::enum_name(c.arch));
    const auto g = twin_g(c, torch::kFloat64);
    const auto d = twin_d(c, torch::kFloat64);
    expect_same_on_both(
        [&](bool dev) {
          const reg::Direal rg(g.on(dev).direal_layers(), o), rd(d.on(dev).direal_layers(), o);
          EXPECT_GT(rg.num_layers(), 0u);
          EXPECT_GT(rd.num_layers(), 0u);
          const auto vg = rg.value(), vd = rd.value();
          if (!dev) {
            EXPECT_GT(vg.item<double>() * vd.item<double>(), 0) << arch << ": an empty DiReAL mask";
          }
          const auto loss = rg.lambda() * vg + rd.lambda() * vd;
          loss.backward();
          return Named{{"R(G)", vg}, {"R(D)", vd}, {"loss", loss}};
        },
        kTol64, "DiReAL " + arch);
    expect_close(gradients(*g.cpu), gradients(*g.dev), kTol64, "DiReAL " + arch + ": G gradients");
    expect_close(gradients(*d.cpu), gradients(*d.dev), kTol64, "DiReAL " + arch + ": D gradients");
  }
}

TEST(CudaParity, GradientNormalizationDoubleBackward) {
  REQUIRE_CUDA();
  // dcgan 32: D spectral norm, no norm layers (no coupling, as GN/PGN require); G batch norm.
  const auto c = config("dcgan", 32);
  const auto z = host_normal({4, c.z_dim}, 31);
  const auto real = host_images(c, 4, 32);
  const auto coef = host_normal({4}, 33);
  for (const auto kind : {reg::GradNorm::kGN, reg::GradNorm::kPGN}) {
    for (const bool through_g : {false, true}) {
      const std::string what =
          std::string(kind == reg::GradNorm::kGN ? "GN" : "PGN") + (through_g ? " on G(z)" : " on a real leaf");
      const auto g = twin_g(c, torch::kFloat64);
      const auto d = twin_d(c, torch::kFloat64);
      expect_same_on_both(
          [&](bool dev) {
            auto& gg = g.on(dev);
            auto& dd = d.on(dev);
            gg.train();
            dd.train();
            const auto x = through_g ? gg.forward(put(dev, z)) : put(dev, real).requires_grad_(true);
            const auto f = dd.forward(x).logits;
            const auto fhat = reg::normalize_output(kind, f, x);
            const auto loss = (fhat * put(dev, coef)).sum();
            loss.backward();  // through ∇ₓf: the double backward
            Named out = {{"f", f}, {"fhat", fhat}, {"loss", loss}};
            if (!through_g) out.emplace_back("dloss/dx", x.grad());
            return out;
          },
          kTol64, what);
      expect_close(gradients(*d.cpu), gradients(*d.dev), kTol64, what + ": D gradients");
      expect_close(buffers(*d.cpu), buffers(*d.dev), kTol64, what + ": D buffers");
      if (through_g) expect_close(gradients(*g.cpu), gradients(*g.dev), kTol64, what + ": G gradients");
    }
  }
}

TEST(CudaParity, WganGpAndR1) {
  REQUIRE_CUDA();
  for (const auto& arch : {std::string("resnet"), std::string("dcgan")}) {
    auto c = config(arch, 32);
    if (arch == "resnet") c.d_width = 32;
    const auto real = host_images(c, 4, 41), fake = host_images(c, 4, 42);
    const auto eps = host_uniform({4}, 43);
    reg::R1Options r1;
    r1.gamma = 10;
    r1.interval = 4;
    for (const std::string term : {"WGAN-GP", "R1"}) {
      const std::string what = term + " " + arch + " D";
      const auto d = twin_d(c, torch::kFloat64);
      expect_same_on_both(
          [&](bool dev) {
            auto& dd = d.on(dev);
            dd.train();
            const reg::Critic critic = [&dd](const torch::Tensor& x) { return dd.forward(x).logits; };
            const auto v = term == "R1" ? reg::r1_penalty(critic, put(dev, real), r1)
                                        : reg::wgan_gp(critic, put(dev, real), put(dev, fake), put(dev, eps), 10.0);
            v.backward();
            return Named{{"penalty", v}};
          },
          kTol64, what);
      expect_close(gradients(*d.cpu), gradients(*d.dev), kTol64, what + ": D gradients");
      expect_close(buffers(*d.cpu), buffers(*d.dev), kTol64, what + ": D buffers");
    }
  }
}

TEST(CudaParity, ConsistencyRegularization) {
  REQUIRE_CUDA();
  auto c = config("dcgan", 32);
  c.d_norm = NormKind::kLayer;
  const auto real = host_images(c, 6, 51);
  const auto d = twin_d(c, torch::kFloat64);
  // cr_augment draws with torch::rand(size, gen): CPU tensors, so the generator must be a CPU
  // one whatever x's device; equally seeded generators give both devices the same T.
  torch::Tensor t_cpu, t_dev;
  expect_same_on_both(
      [&](bool dev) {
        auto& dd = d.on(dev);
        dd.train();
        const auto x = put(dev, real);
        const auto t = reg::cr_augment(x, 0.2, host_gen(52));
        (dev ? t_dev : t_cpu) = t;
        const auto d_x = dd.forward(x).logits, d_tx = dd.forward(t).logits;
        const auto term = reg::consistency_term(d_x, d_tx, 10.0);
        term.backward();
        return Named{{"T(x)", t}, {"D(x)", d_x}, {"D(T(x))", d_tx}, {"term", term}};
      },
      kTol64, "consistency regularization");
  EXPECT_TRUE(torch::equal(t_cpu, t_dev.cpu())) << "T(x): a flip and a zero-filled shift must be exact";
  EXPECT_FALSE(torch::equal(t_cpu, real)) << "T(x) = x: nothing augmented";
  expect_close(gradients(*d.cpu), gradients(*d.dev), kTol64, "consistency regularization: D gradients");
}

TEST(CudaParity, FeatureMatching) {
  REQUIRE_CUDA();
  const auto real = host_normal({6, 40}, 61), fake = host_normal({4, 40}, 62);
  for (const auto distance : {reg::FeatureMatchingDistance::kSquaredL2, reg::FeatureMatchingDistance::kMeanAbs}) {
    expect_same_on_both(
        [&](bool dev) {
          const auto r = put(dev, real).requires_grad_(true), f = put(dev, fake).requires_grad_(true);
          const auto l = reg::feature_matching_loss(r, f, distance);
          l.backward();
          EXPECT_FALSE(r.grad().defined()) << "the real mean must be detached";
          return Named{{"loss", l}, {"dloss/dfake", f.grad()}};
        },
        kTol64,
        distance == reg::FeatureMatchingDistance::kSquaredL2 ? "feature matching (squared L2)"
                                                             : "feature matching (mean abs)");
  }
}

TEST(CudaParity, HistoricalAveraging) {
  REQUIRE_CUDA();
  const auto d = twin_d(config("dcgan", 32), torch::kFloat64);
  expect_same_on_both(
      [&](bool dev) {
        auto& dd = d.on(dev);
        reg::HistoricalAverage ha(dd.parameters(), 0.5);
        ha.update();
        perturb(dd, 71, 0.01);
        ha.update();
        perturb(dd, 72, 0.01);
        const auto p = ha.penalty();
        p.backward();
        Named out = {{"penalty", p}};
        const auto state = ha.state();
        for (size_t i = 0; i + 1 < state.size(); ++i) out.emplace_back("average" + std::to_string(i), state[i]);
        EXPECT_EQ(state.back().item<int64_t>(), 2);  // the count: a CPU tensor on both devices
        return out;
      },
      kTol64, "historical averaging");
  expect_close(gradients(*d.cpu), gradients(*d.dev), kTol64, "historical averaging: D gradients");
}

TEST(CudaParity, SplitLoss) {
  REQUIRE_CUDA();
  // Maps scaled by 30 so that ((a − b)/25)⁴ is O(1) and the ε inside the log does not dominate.
  const std::vector<torch::Tensor> maps = {host_normal({4, 2, 4, 4}, 81) * 30, host_normal({4, 1, 8, 8}, 82) * 30,
                                           host_normal({4, 3, 16, 16}, 83) * 30};
  expect_same_on_both(
      [&](bool dev) {
        Named out;
        // The default block, one row per block, and 2 + 1 rows for the 768-wide map, on both devices.
        for (const int64_t block : {int64_t{1} << 18, int64_t{1}, int64_t{4 * 768 * 2}}) {
          std::vector<torch::Tensor> m;
          for (const auto& h : maps) m.push_back(put(dev, h).requires_grad_(true));
          reg::SplitLossOptions opt;
          opt.block_elements = block;
          const auto l = reg::split_loss(m, reg::split_loss_weights(m.size()), opt);
          l.backward();
          const auto tag = " (block " + std::to_string(block) + ")";
          out.emplace_back("loss" + tag, l);
          for (size_t i = 0; i < m.size(); ++i) out.emplace_back("dloss/dmap" + std::to_string(i) + tag, m[i].grad());
        }
        return out;
      },
      kTol64, "split loss");
}

TEST(CudaParity, Ema) {
  REQUIRE_CUDA();
  const auto c = config("dcgan", 32);  // G with batch norm: running statistics are averaged too
  const auto model = twin_g(c, torch::kFloat64, 5);
  const auto shadow = twin_g(c, torch::kFloat64, 6);  // another draw: Ema's constructor copies the model in
  const auto z = host_normal({4, c.z_dim}, 91);
  expect_same_on_both(
      [&](bool dev) {
        const auto& m = dev ? model.dev : model.cpu;
        gantry::train::Ema ema(m, dev ? shadow.dev : shadow.cpu, 0.9, /*start_step=*/2);
        for (int64_t step = 1; step <= 4; ++step) {
          perturb(*m, 100 + static_cast<uint64_t>(step), 0.01);
          {
            torch::NoGradGuard no_grad;  // a train-mode forward moves the BN running statistics
            m->train();
            m->forward(put(dev, z));
          }
          ema.update(step);
        }
        auto out = parameters(ema.shadow());
        const auto b = buffers(ema.shadow());
        out.insert(out.end(), b.begin(), b.end());
        return out;
      },
      kTol64, "EMA shadow parameters and buffers");
}

TEST(CudaParity, LabelSmoothing) {
  REQUIRE_CUDA();
  const auto real = host_normal({8}, 95) * 2, fake = host_normal({8}, 96) * 2;
  expect_same_on_both(
      [&](bool dev) {
        const auto r = put(dev, real).requires_grad_(true), f = put(dev, fake).requires_grad_(true);
        const auto l = gantry::train::d_loss(gantry::train::Loss::kBce, r, f, 0.9);
        l.backward();
        return Named{{"loss", l}, {"dloss/dreal", r.grad()}, {"dloss/dfake", f.grad()}};
      },
      kTol64, "one-sided label smoothing");
}

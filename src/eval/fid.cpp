#include "eval/fid.h"

#include <xxhash.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "common/atomic_file.h"

namespace gantry::eval {

FeatureStats feature_stats(const torch::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2)
    throw std::invalid_argument("feature statistics need a [N >= 2, F] matrix");
  const auto f = features.detach().to(torch::kCPU, torch::kDouble);
  const auto mean = f.mean(0);
  const auto centered = f - mean;
  return {mean, centered.t().matmul(centered) / static_cast<double>(f.size(0) - 1), f.size(0)};
}

namespace {

// (A)^{1/2} for A = V diag(λ) V⁻¹ (complex); non-finite entries if the decomposition is unusable.
torch::Tensor sqrtm_eig(const torch::Tensor& a) {
  try {
    auto [values, vectors] = torch::linalg_eig(a);
    const auto scaled = vectors * torch::sqrt(values).unsqueeze(0);  // V diag(√λ)
    // V diag(√λ) V⁻¹ = solve(Vᵀ, (V diag(√λ))ᵀ)ᵀ
    return torch::linalg_solve(vectors.transpose(0, 1), scaled.transpose(0, 1)).transpose(0, 1);
  } catch (const c10::Error&) {  // no convergence, singular V
    return torch::full(a.sizes(), std::nan(""), torch::kComplexDouble);
  }
}

}  // namespace

FrechetResult frechet_distance(const FeatureStats& a, const FeatureStats& b, const FrechetOptions& options) {
  if (!a.mean.defined() || !b.mean.defined() || a.mean.sizes() != b.mean.sizes() || a.cov.sizes() != b.cov.sizes())
    throw std::runtime_error("FID: the two feature statistics have different dimensions");
  const auto m1 = a.mean.to(torch::kDouble), m2 = b.mean.to(torch::kDouble);
  const auto s1 = a.cov.to(torch::kDouble), s2 = b.cov.to(torch::kDouble);
  for (const auto* t : {&m1, &m2, &s1, &s2})
    if (!torch::isfinite(*t).all().item<bool>())
      throw std::runtime_error(
          "FID: non-finite feature statistics (non-finite features, e.g. from a diverged generator)");
  FrechetResult r;
  r.mean_term = (m1 - m2).square().sum().item<double>();
  torch::Tensor root = sqrtm_eig(s1.matmul(s2));
  if (!torch::isfinite(torch::view_as_real(root)).all().item<bool>()) {
    r.eps_retry = true;
    const auto offset = torch::eye(s1.size(0), torch::kDouble) * options.eps;
    root = sqrtm_eig((s1 + offset).matmul(s2 + offset));
    if (!torch::isfinite(torch::view_as_real(root)).all().item<bool>())
      throw std::runtime_error("FID: the covariance product has no finite square root, even with eps*I added");
  }
  const double imag = torch::imag(root).diagonal().abs().max().item<double>();
  if (imag > options.imag_atol) {
    std::ostringstream msg;
    msg << "FID: the square root of the covariance product has an imaginary component " << imag << " (> "
        << options.imag_atol << ")";
    throw std::runtime_error(msg.str());
  }
  r.trace_sqrt = torch::real(root).diagonal().sum().item<double>();
  r.fid = r.mean_term + s1.trace().item<double>() + s2.trace().item<double>() - 2 * r.trace_sqrt;
  return r;
}

namespace {
constexpr const char* kKind = "gantry-feature-stats-v1";

uint64_t digest(const FeatureStats& s) {
  const auto m = s.mean.contiguous(), c = s.cov.contiguous();
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, m.data_ptr(), m.numel() * sizeof(double));
  XXH3_64bits_update(st, c.data_ptr(), c.numel() * sizeof(double));
  XXH3_64bits_update(st, &s.count, sizeof s.count);
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}
}  // namespace

void save_stats(const std::filesystem::path& file, const FeatureStats& stats,
                const std::map<std::string, std::string>& meta) {
  torch::serialize::OutputArchive a;
  FeatureStats s{stats.mean.to(torch::kDouble).contiguous(), stats.cov.to(torch::kDouble).contiguous(), stats.count};
  a.write("kind", c10::IValue(std::string(kKind)));
  a.write("mean", s.mean);
  a.write("cov", s.cov);
  a.write("count", torch::tensor(s.count));
  a.write("digest", torch::tensor(static_cast<int64_t>(digest(s))));
  for (const auto& [k, v] : meta) a.write("meta." + k, c10::IValue(v));
  a.write("meta_keys", c10::IValue([&] {
            std::string keys;
            for (const auto& [k, v] : meta) keys += k + "\n";
            return keys;
          }()));
  write_atomically(file, [&](const std::filesystem::path& temp) { a.save_to(temp.string()); });
}

FeatureStats load_stats(const std::filesystem::path& file, std::map<std::string, std::string>* meta) {
  const std::string where = "feature statistics " + file.string();
  if (!std::filesystem::is_regular_file(file)) throw std::invalid_argument(where + ": no such file");
  FeatureStats s;
  try {
    torch::serialize::InputArchive a;
    a.load_from(file.string());
    c10::IValue kind, keys;
    if (!a.try_read("kind", kind) || !kind.isString() || kind.toStringRef() != kKind)
      throw std::invalid_argument(where + ": not a gantry statistics file");
    torch::Tensor count, stored;
    a.read("mean", s.mean);
    a.read("cov", s.cov);
    a.read("count", count);
    a.read("digest", stored);
    s.count = count.item<int64_t>();
    if (s.mean.dim() != 1 || s.cov.dim() != 2 || s.cov.size(0) != s.mean.size(0) || s.cov.size(1) != s.mean.size(0) ||
        s.mean.scalar_type() != torch::kDouble || s.cov.scalar_type() != torch::kDouble ||
        static_cast<uint64_t>(stored.item<int64_t>()) != digest(s))
      throw std::invalid_argument(where + ": damaged (checksum or shape mismatch)");
    if (meta && a.try_read("meta_keys", keys)) {
      std::istringstream in(keys.toStringRef());
      std::string k;
      while (std::getline(in, k)) {
        c10::IValue v;
        a.read("meta." + k, v);
        (*meta)[k] = v.toStringRef();
      }
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw std::invalid_argument(where + ": unreadable (" + why + ")");
  }
  return s;
}

}  // namespace gantry::eval

#include "train/evaluation.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>

#include "common/mixture2d.h"
#include "common/rng.h"
#include "data/h5_image_file.h"
#include "eval/diversity.h"
#include "eval/fid.h"
#include "eval/inception_score.h"
#include "eval/mode_coverage.h"
#include "reg/direal.h"
#include "train/module_guards.h"
#include "train/standing_stats.h"

namespace gantry::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kEvalNoise = 0x4556414C4E4F4953ull;  // "EVALNOIS"

using ChunkFn = std::function<std::vector<torch::Tensor>(int64_t first, int64_t n)>;

// Chunks [c·batch, min((c+1)·batch, count)) of `count` items, chunk c computed
// by rank c mod W; every output ([n, F] each) gathered on every rank in chunk order.
std::vector<torch::Tensor> gather_chunks(int64_t count, int64_t batch, int outputs, dist::Communicator& comm,
                                         const ChunkFn& fn) {
  const int world = comm.size(), rank = comm.rank();
  const int64_t chunks = (count + batch - 1) / batch;
  auto chunk_rows = [&](int64_t c) { return std::min(batch, count - c * batch); };
  std::vector<std::vector<torch::Tensor>> mine(outputs);
  for (int64_t c = rank; c < chunks; c += world) {
    auto out = fn(c * batch, chunk_rows(c));
    for (int i = 0; i < outputs; ++i) mine[i].push_back(out[i].to(torch::kCPU, torch::kFloat).contiguous());
  }
  std::vector<torch::Tensor> result;
  for (int i = 0; i < outputs; ++i) {
    // A rank without chunks still takes part, with [0, F] rows (F agreed by a max-reduce).
    const auto widths =
        comm.all_gather(torch::tensor({mine[i].empty() ? int64_t{0} : mine[i][0].size(1)}, torch::kLong));
    const auto local =
        mine[i].empty() ? torch::empty({0, widths.max().item<int64_t>()}, torch::kFloat) : torch::cat(mine[i]);
    std::vector<int64_t> rows;
    const auto all = comm.all_gather(local, &rows);
    // Rank r's rows are its chunks r, r+W, ... in order: put them back in chunk order.
    std::vector<int64_t> rank_offset(world, 0);
    for (int r = 1; r < world; ++r) rank_offset[r] = rank_offset[r - 1] + rows[r - 1];
    std::vector<torch::Tensor> ordered;
    for (int64_t c = 0; c < chunks; ++c) {
      auto& off = rank_offset[c % world];
      ordered.push_back(all.narrow(0, off, chunk_rows(c)));
      off += chunk_rows(c);
    }
    result.push_back(torch::cat(ordered));
  }
  return result;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// FID reference statistics of `path` in the network's space: from the cache, or computed across ranks and cached.
// Rank 0 returns them; other ranks an empty FeatureStats.
eval::FeatureStats reference_stats(const fs::path& path, int64_t limit, eval::FeatureNet& net, dist::Communicator& comm,
                                   int64_t batch, const fs::path& cache_dir, json& info) {
  data::H5ImageFile file(path.string());
  const auto& di = file.info();
  const int64_t n = limit > 0 ? std::min(limit, di.count) : di.count;
  if (n < 2) throw std::invalid_argument("eval: FID needs at least 2 reference images");
  // Rank 0 names the cache file (hashing the data file once) and tells the others whether it is there.
  std::string stats_name;
  eval::FeatureStats stats;
  auto cached = torch::zeros({1}, torch::kLong);
  if (comm.rank() == 0) {
    stats_name = "fid-ref-" + eval::file_digest(path) + "-" + net.digest() + "-" + std::to_string(n) + ".stats";
    const auto stats_file = cache_dir / stats_name;
    if (fs::exists(stats_file)) {
      try {
        stats = eval::load_stats(stats_file);
        cached[0] = 1;
      } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "gantry: %s: recomputing\n", e.what());
      }
    }
  }
  comm.broadcast(cached);
  info = {{"reference", path.string()}, {"reference_count", n}, {"cached", cached.item<int64_t>() == 1}};
  if (cached.item<int64_t>() == 1) {
    info["stats_file"] = (cache_dir / stats_name).string();
    return stats;
  }
  const auto features = gather_chunks(n, batch, 1, comm, [&](int64_t first, int64_t rows) {
    auto u8 = torch::empty({rows, di.channels, di.height, di.width}, torch::kUInt8);
    file.read_range(first, rows, u8.data_ptr<uint8_t>());
    return std::vector<torch::Tensor>{net.forward(u8.to(torch::kFloat).div(127.5).sub(1.0)).features};
  })[0];
  if (comm.rank() != 0) return {};
  stats = eval::feature_stats(features);
  fs::create_directories(cache_dir);
  eval::save_stats(cache_dir / stats_name, stats,
                   {{"data", path.string()}, {"feature_net_digest", net.digest()}, {"count", std::to_string(n)}});
  info["stats_file"] = (cache_dir / stats_name).string();
  return stats;
}

}  // namespace

void check_request(const EvalRequest& req, const TrainConfig& config, bool have_net, const eval::FeatureNet* net) {
  const auto& m = req.metrics;
  const bool points = config.model.arch == models::Arch::kMlp;
  if (!m.any()) throw std::invalid_argument("eval: no metric requested");
  try {
    eval::check_metrics_fit(m, points, have_net);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("eval: ") + e.what());
  }
  if (m.is && net && !net->classifies())
    throw std::invalid_argument("eval: the feature network does not classify; IS needs class probabilities");
  const int64_t count = req.count > 0 ? req.count : (points ? 2500 : 10000);
  if (count < std::max<int64_t>(2, m.is ? req.splits : 1)) throw std::invalid_argument("eval: --count is too small");
  if (req.batch < 1) throw std::invalid_argument("eval: batch must be positive");
  if (m.fid) {
    const std::string path = req.reference.empty() ? config.data.path : req.reference;
    if (path.empty())
      throw std::invalid_argument("eval: FID needs reference data (--reference or the config's data.path)");
    const auto di = data::inspect_dataset(path);
    const auto& mc = config.model;
    if (di.channels != mc.channels || di.height != mc.resolution || di.width != mc.resolution)
      throw std::invalid_argument("eval: reference data " + path + " holds " + std::to_string(di.channels) + "x" +
                                  std::to_string(di.height) + "x" + std::to_string(di.width) +
                                  " images, the generator makes " + std::to_string(mc.channels) + "x" +
                                  std::to_string(mc.resolution) + "x" + std::to_string(mc.resolution));
  }
}

fs::path default_stats_cache() {
  if (const char* d = std::getenv("GANTRY_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "gantry";
  return fs::path(env_or("HOME", "/tmp")) / ".cache" / "gantry";
}

json evaluate(models::Generator& g, models::Discriminator* d, const TrainConfig& config, int64_t step,
              dist::Communicator& comm, torch::Device device, const EvalRequest& req, eval::FeatureNet* net) {
  const auto started = std::chrono::steady_clock::now();
  check_request(req, config, net != nullptr, net);
  const auto& m = req.metrics;
  const bool points = config.model.arch == models::Arch::kMlp;
  const int64_t count = req.count > 0 ? req.count : (points ? 2500 : 10000);

  // Generate and measure, chunk by chunk, across ranks.
  torch::NoGradGuard ng;
  // Standing statistics from batches of training's G-call size (one pack slot's rows when
  // train.pack_slot_forward makes one G call per slot).
  const int64_t slots = config.train.pack_slot_forward ? config.model.pack : 1;
  std::optional<StandingStatistics> standing;
  if (req.bn_standing > 0) standing.emplace(g, req.bn_standing, config.g_batch() / slots, req.seed, device, &comm);
  std::optional<EvalMode> eval_mode(std::in_place, g);  // until the samples are made
  const bool use_net = net && !points;
  const int outputs = use_net ? (net->classifies() ? 2 : 1) : 1;
  const auto out = gather_chunks(count, req.batch, outputs, comm, [&](int64_t first, int64_t n) {
    const auto gen = at::make_generator<at::CPUGeneratorImpl>(key(req.seed, kEvalNoise, first / req.batch));
    const auto z = torch::randn({n, g.z_dim()}, gen).to(device);
    g.set_route_context({0, first});
    const auto x = g.forward(z);
    if (!use_net) return std::vector<torch::Tensor>{x.reshape({n, -1})};
    auto f = net->forward(x);
    return f.probs.defined() ? std::vector<torch::Tensor>{f.features, f.probs} : std::vector<torch::Tensor>{f.features};
  });
  eval_mode.reset();
  standing.reset();

  eval::FeatureStats ref;
  json ref_info;
  if (m.fid) {
    const std::string path = req.reference.empty() ? config.data.path : req.reference;
    ref = reference_stats(path, req.reference_count, *net, comm, req.batch,
                          req.stats_cache.empty() ? default_stats_cache() : req.stats_cache, ref_info);
  }
  if (comm.rank() != 0) return json::object();

  json r = {{"event", "eval"}, {"step", step},     {"net", req.ema ? "G_ema" : "G"},
            {"count", count},  {"seed", req.seed}, {"ranks", comm.size()}};
  if (req.bn_standing > 0) r["bn_standing"] = req.bn_standing;
  if (use_net) {
    r["feature_space"] = net->feature_space();
    r["feature_net_digest"] = net->digest();
  }
  if (m.is) {
    const auto s = eval::inception_score(out[1], req.splits);
    r[eval::metric_label("IS", net->feature_space())] = {{"mean", s.mean}, {"std", s.std}, {"splits", s.splits}};
  }
  if (m.fid) {
    const auto f = eval::frechet_distance(ref, eval::feature_stats(out[0]));
    json j = {{"value", f.fid}, {"mean_term", f.mean_term}, {"trace_sqrt", f.trace_sqrt}, {"eps_retry", f.eps_retry}};
    j.update(ref_info);
    r[eval::metric_label("FID", net->feature_space())] = j;
  }
  if (m.modes) {
    const auto mc = eval::mode_coverage(out[0], mixture_by_name(config.data.mixture));
    r["modes"] = {{"mixture", config.data.mixture}, {"captured", mc.modes_captured},
                  {"total", mc.modes_total},        {"high_quality_share", mc.high_quality_share},
                  {"kl", mc.kl_from_uniform},       {"jsd", mc.jsd_from_uniform},
                  {"histogram", mc.histogram}};
  }
  if (m.diversity) {
    json dv;
    const auto scope = config.reg.direal_layers;
    const auto rg = reg::direal_layers(g, scope);
    const auto rd = d ? reg::direal_layers(*d, scope) : std::vector<models::WeightLayer>{};
    dv["R_G"] =
        rg.empty() ? json(nullptr) : json(reg::Direal(rg, {config.reg.direal_tau_g, 1.0}).value().item<double>());
    dv["R_D"] =
        rd.empty() ? json(nullptr) : json(reg::Direal(rd, {config.reg.direal_tau_d, 1.0}).value().item<double>());
    dv["tau_g"] = config.reg.direal_tau_g;
    dv["tau_d"] = config.reg.direal_tau_d;
    dv["layers"] = enum_name(scope);
    dv["mean_pairwise_distance"] = eval::mean_pairwise_distance(out[0]);
    dv["pairwise_space"] = use_net ? "features" : (points ? "points" : "pixels");
    r["diversity"] = dv;
  }
  r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

std::vector<std::pair<std::string, double>> eval_scalars(const json& r) {
  std::vector<std::pair<std::string, double>> s;
  auto num = [&](const std::string& name, const json& v) {
    if (v.is_number()) s.emplace_back("eval/" + name, v.get<double>());
  };
  for (const auto& [k, v] : r.items()) {
    if (!v.is_object()) continue;
    if (k.rfind("IS", 0) == 0) num(k, v["mean"]);
    if (k.rfind("FID", 0) == 0) num(k, v["value"]);
  }
  if (r.contains("modes")) {
    num("modes_captured", r["modes"]["captured"]);
    num("high_quality_share", r["modes"]["high_quality_share"]);
    num("modes_kl", r["modes"]["kl"]);
    num("modes_jsd", r["modes"]["jsd"]);
  }
  if (r.contains("diversity")) {
    for (const char* k : {"R_G", "R_D", "mean_pairwise_distance"}) num(k, r["diversity"][k]);
  }
  return s;
}

}  // namespace gantry::train

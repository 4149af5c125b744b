#include "train/train_config.h"

#include <toml++/toml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <tuple>
#include <variant>

#include "data/h5_image_file.h"
#include "data/sampler.h"
#include "common/mixture2d.h"
#include "eval/metric_set.h"
#include "reg/compatibility.h"

namespace gantry::train {

namespace {

// A key that names a choice: parsing and printing go through the enum's one
// name list (common/named_enum.h).
struct ChoiceRef {
  std::function<void(std::string_view)> set;  // std::invalid_argument "must be a or b, not 'x'"
  std::function<std::string()> get;
};
template <class E>
ChoiceRef choice(E* p) {
  return {[p](std::string_view text) { *p = parse_enum<E>(text); }, [p] { return std::string(enum_name(*p)); }};
}

using Target = std::variant<int64_t*, uint64_t*, double*, bool*, std::string*, ChoiceRef>;
struct Field {
  std::string key;
  Target target;
};

// Every key of the config, in the order to_toml writes them.
std::vector<Field> fields(TrainConfig& c) {
  auto& m = c.model;
  auto& t = c.train;
  auto& r = c.reg;
  return {
      {"model.arch", choice(&m.arch)},
      {"model.resolution", &m.resolution},
      {"model.channels", &m.channels},
      {"model.z_dim", &m.z_dim},
      {"model.g_width", &m.g_width},
      {"model.d_width", &m.d_width},
      {"model.g_norm", choice(&m.g_norm)},
      {"model.d_norm", choice(&m.d_norm)},
      {"model.g_weight_norm", choice(&m.g_weight_norm)},
      {"model.d_weight_norm", choice(&m.d_weight_norm)},
      {"model.sync_batch_norm", &m.sync_batch_norm},
      {"model.bn_momentum", &m.bn_momentum},
      {"model.bn_eps", &m.bn_eps},
      {"model.vbn_reference", &m.vbn_reference},
      {"model.mbd_kernels", &m.mbd_kernels},
      {"model.mbd_kernel_dim", &m.mbd_kernel_dim},
      {"model.sdeconv_sets", &m.sdeconv_sets},
      {"model.sdeconv_layers", &m.sdeconv_layers},
      {"model.mlp_hidden", &m.mlp_hidden},
      {"model.mlp_depth", &m.mlp_depth},
      {"model.mlp_d_depth", &m.mlp_d_depth},
      {"model.data_dim", &m.data_dim},
      {"model.mlp_banks", &m.mlp_banks},
      {"model.d_activation", choice(&m.d_activation)},
      {"model.maxout_pieces", &m.maxout_pieces},
      {"model.mlp_init", choice(&m.mlp_init)},
      {"model.pack", &m.pack},
      {"data.path", &c.data.path},
      {"data.mixture", &c.data.mixture},
      {"data.mixture_pool", &c.data.mixture_pool},
      {"data.batch", &c.data.batch},
      {"data.hflip", &c.data.hflip},
      {"data.shift", &c.data.shift},
      {"data.last_batch", choice(&c.data.last_batch)},
      {"data.prefetch", &c.data.prefetch},
      {"data.decode_threads", &c.data.decode_threads},
      {"data.in_memory", &c.data.in_memory},
      {"data.file_locking", &c.data.file_locking},
      {"train.steps", &t.steps},
      {"train.n_dis", &t.n_dis},
      {"train.g_batch", &t.g_batch},
      {"train.loss", choice(&t.loss)},
      {"train.lr_g", &t.g.lr},
      {"train.lr_d", &t.d.lr},
      {"train.beta1_g", &t.g.beta1},
      {"train.beta2_g", &t.g.beta2},
      {"train.beta1_d", &t.d.beta1},
      {"train.beta2_d", &t.d.beta2},
      {"train.lr_schedule", choice(&t.lr_schedule)},
      {"train.beta1_switch_step", &t.beta1_switch_step},
      {"train.beta1_switch_to", &t.beta1_switch_to},
      {"train.seed", &t.seed},
      {"train.ema_beta", &t.ema_beta},
      {"train.ema_start", &t.ema_start},
      {"train.checkpoint_every", &t.checkpoint_every},
      {"train.keep_checkpoints", &t.keep_checkpoints},
      {"train.max_bad_steps", &t.max_bad_steps},
      {"train.stop_signals", &t.stop_signals},
      {"train.precision", choice(&t.precision)},
      {"train.channels_last", &t.channels_last},
      {"train.grad_sync_overlap", &t.grad_sync_overlap},
      {"train.bucket_cap_mb", &t.bucket_cap_mb},
      {"train.pack_slot_forward", &t.pack_slot_forward},
      {"reg.direal_d", &r.direal_d},
      {"reg.direal_g", &r.direal_g},
      {"reg.direal_tau_d", &r.direal_tau_d},
      {"reg.direal_tau_g", &r.direal_tau_g},
      {"reg.direal_lambda_d", &r.direal_lambda_d},
      {"reg.direal_lambda_g", &r.direal_lambda_g},
      {"reg.direal_layers", choice(&r.direal_layers)},
      {"reg.grad_norm", choice(&r.grad_norm)},
      {"reg.wgan_gp", &r.wgan_gp},
      {"reg.gp_lambda", &r.gp_lambda},
      {"reg.r1_gamma", &r.r1_gamma},
      {"reg.r1_interval", &r.r1_interval},
      {"reg.cr_lambda", &r.cr_lambda},
      {"reg.cr_shift", &r.cr_shift},
      {"reg.feature_matching", &r.feature_matching},
      {"reg.fm_distance", choice(&r.fm_distance)},
      {"reg.ha_lambda_d", &r.ha_lambda_d},
      {"reg.ha_lambda_g", &r.ha_lambda_g},
      {"reg.label_smoothing", &r.label_smoothing},
      {"reg.split_loss_lambda", &r.split_loss_lambda},
      {"log.every", &c.log.every},
      {"log.sample_every", &c.log.sample_every},
      {"log.sample_count", &c.log.sample_count},
      {"log.timing", &c.log.timing},
      {"eval.every", &c.eval.every},
      {"eval.metrics", &c.eval.metrics},
      {"eval.count", &c.eval.count},
      {"eval.feature_net", &c.eval.feature_net},
      {"eval.ema", &c.eval.ema},
      {"eval.bn_standing", &c.eval.bn_standing},
  };
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date/time";
  }
}

void assign(const Field& f, const toml::node& n) {
  auto bad = [&](const char* want) {
    return std::invalid_argument("config: " + f.key + " must be " + want + ", not " + type_name(n));
  };
  std::visit(
      [&](const auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, ChoiceRef>) {
          if (!n.is_string()) throw bad("a string");
          try {
            p.set(n.as_string()->get());
          } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("config: " + f.key + " " + e.what());
          }
        } else if constexpr (std::is_same_v<P, bool*>) {
          if (!n.is_boolean()) throw bad("true or false");
          *p = n.as_boolean()->get();
        } else if constexpr (std::is_same_v<P, std::string*>) {
          if (!n.is_string()) throw bad("a string");
          *p = n.as_string()->get();
        } else if constexpr (std::is_same_v<P, double*>) {
          if (n.is_integer())
            *p = static_cast<double>(n.as_integer()->get());
          else if (n.is_floating_point())
            *p = n.as_floating_point()->get();
          else
            throw bad("a number");
        } else {
          if (!n.is_integer()) throw bad("an integer");
          const int64_t v = n.as_integer()->get();
          if constexpr (std::is_same_v<P, uint64_t*>) {
            if (v < 0) throw std::invalid_argument("config: " + f.key + " must be non-negative");
          }
          *p = static_cast<std::remove_pointer_t<P>>(v);
        }
      },
      f.target);
}

void apply_table(const toml::table& table, const std::string& prefix, std::vector<Field>& fs) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    auto it = std::find_if(fs.begin(), fs.end(), [&](const Field& f) { return f.key == key; });
    // A table where a value belongs (`loss = {}`) is a type error, never a silently empty section.
    if (node.is_table() && it == fs.end()) {
      apply_table(*node.as_table(), key, fs);
      continue;
    }
    if (it == fs.end()) throw std::invalid_argument("config: unknown key '" + key + "'");
    assign(*it, node);
  }
}

// The range every integer key must lie in. The upper bounds are far beyond any
// model this trainer is for, and low enough that products of them (a layer's
// weights, a batch's activations) cannot overflow 64 bits before an allocator
// can refuse them with a message.
struct IntRange {
  const char* key;
  int64_t lo, hi;
};
constexpr int64_t kMaxSteps = int64_t{1} << 40;
const IntRange kIntRanges[] = {
    {"model.z_dim", 1, 65536},
    {"model.g_width", 0, 16384},
    {"model.d_width", 0, 16384},
    {"model.vbn_reference", 2, 65536},
    {"model.mbd_kernels", 0, 4096},
    {"model.mbd_kernel_dim", 1, 1024},
    {"model.sdeconv_sets", 1, 256},
    {"model.sdeconv_layers", 0, 16},
    {"model.mlp_hidden", 1, 65536},
    {"model.mlp_depth", 2, 64},
    {"model.mlp_d_depth", 0, 64},
    {"model.data_dim", 1, 65536},
    {"model.mlp_banks", 0, 63},
    {"model.maxout_pieces", 1, 64},
    {"model.pack", 1, 64},
    {"data.mixture_pool", 0, 1 << 28},
    {"data.batch", 1, 1 << 20},
    {"data.shift", 0, 4096},
    {"data.prefetch", 1, 1024},
    {"data.decode_threads", 1, 1024},
    {"train.steps", 1, kMaxSteps},
    {"train.n_dis", 1, 1000},
    {"train.g_batch", 0, 1 << 20},
    {"train.ema_start", 0, kMaxSteps},
    {"train.checkpoint_every", 1, kMaxSteps},
    {"train.keep_checkpoints", 1, 1 << 20},
    {"train.max_bad_steps", 1, kMaxSteps},
    {"reg.r1_interval", 1, kMaxSteps},
    {"log.every", 1, kMaxSteps},
    {"log.sample_every", 1, kMaxSteps},
    {"log.sample_count", 1, 65536},
    {"eval.every", 0, kMaxSteps},
    {"eval.count", 0, 1 << 24},
    {"eval.bn_standing", 0, 1 << 20},
};

void check_int_ranges(TrainConfig& c) {
  for (const auto& f : fields(c)) {
    const auto* p = std::get_if<int64_t*>(&f.target);
    if (p == nullptr) continue;
    for (const auto& r : kIntRanges)
      if (f.key == r.key && (**p < r.lo || **p > r.hi))
        throw std::invalid_argument("config: " + f.key + " = " + std::to_string(**p) + " is outside [" +
                                    std::to_string(r.lo) + ", " + std::to_string(r.hi) + "]");
  }
  for (const auto& f : fields(c))
    if (const auto* p = std::get_if<double*>(&f.target); p != nullptr && !std::isfinite(**p))
      throw std::invalid_argument("config: " + f.key + " must be a finite number");
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("config: " + message);
}

// MemAvailable of /proc/meminfo in bytes (0 when unknown).
double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// The MLP's weights grow with hidden² · depth: estimate G, G_ema and D with
// their gradients and Adam moments (4 floats per G/D weight, 1 per G_ema one)
// and refuse what cannot fit before anything is allocated.
void check_mlp_fits(const models::ModelConfig& m) {
  if (m.arch != models::Arch::kMlp) return;
  // An upper bound with the widest and deepest of the two networks (maxout D layers are `pieces` times wider).
  const int64_t pieces = m.d_activation == models::DActivation::kMaxout ? m.maxout_pieces : 1;
  const double h = static_cast<double>(std::max({m.mlp_hidden, m.g_width, m.d_width * pieces}));
  const double depth = static_cast<double>(std::max(m.mlp_depth, m.mlp_d_depth));
  const double per_net = h * (static_cast<double>(m.z_dim) + static_cast<double>(m.data_dim) + 2) + (depth - 1) * h * h;
  const double bytes = 4.0 * per_net * (4 + 1 + 4);
  const double have = available_memory_bytes();
  if (have > 0 && bytes > have) {
    char line[200];
    std::snprintf(line, sizeof line,
                  "model.mlp_hidden = %lld with model.mlp_depth = %lld needs ~%.1f GiB for weights, "
                  "gradients and Adam state; this machine has %.1f GiB available",
                  static_cast<long long>(m.mlp_hidden), static_cast<long long>(m.mlp_depth), bytes / (1 << 30),
                  have / (1 << 30));
    throw std::invalid_argument(std::string("config: ") + line);
  }
}

void validate_eval(const TrainConfig& c) {
  const auto& e = c.eval;
  require(e.every >= 0 && e.count >= 0, "eval.every and eval.count must be non-negative");
  if (e.every == 0) return;
  eval::MetricSet m;
  try {
    m = eval::parse_metric_set(e.metrics);
  } catch (const std::invalid_argument& err) {
    throw std::invalid_argument(std::string("config: eval.metrics: ") + err.what());
  }
  try {
    eval::check_metrics_fit(m, c.model.arch == models::Arch::kMlp, !e.feature_net.empty());
  } catch (const std::invalid_argument& err) {
    throw std::invalid_argument(std::string("config: eval.metrics: ") + err.what());
  }
  require(e.feature_net.empty() || std::filesystem::is_regular_file(e.feature_net),
          "eval.feature_net: " + e.feature_net + ": no such file");
}

}  // namespace

void validate(TrainConfig& c, int world_size) {
  auto parse = [](const std::string& key, auto fn) {
    try {
      return fn();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("config: " + key + ": " + e.what());
    }
  };
  c.model.seed = c.train.seed;
  check_int_ranges(c);
  const auto& t = c.train;
  require(t.steps > 0, "train.steps must be positive");
  require(t.n_dis >= 1, "train.n_dis must be at least 1");
  require(c.data.batch > 0, "data.batch must be positive");
  require(t.g_batch >= 0, "train.g_batch must be non-negative (0: data.batch)");
  for (const auto* o : {&t.g, &t.d}) {
    require(o->lr > 0 && std::isfinite(o->lr), "learning rates must be positive");
    require(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1, "Adam betas must be in [0, 1)");
  }
  require(t.beta1_switch_step >= 0, "train.beta1_switch_step must be non-negative (0: never)");
  require(t.beta1_switch_to >= 0 && t.beta1_switch_to < 1, "train.beta1_switch_to must be in [0, 1)");
  require(t.ema_beta >= 0 && t.ema_beta < 1, "train.ema_beta must be in [0, 1)");
  require(t.checkpoint_every > 0 && t.keep_checkpoints > 0,
          "train.checkpoint_every and keep_checkpoints must be positive");
  require(t.max_bad_steps > 0, "train.max_bad_steps must be positive");
  require(t.bucket_cap_mb > 0 && t.bucket_cap_mb <= 4096, "train.bucket_cap_mb must be in (0, 4096]");
  require(c.data.prefetch > 0 && c.data.decode_threads > 0, "data.prefetch and data.decode_threads must be positive");
  require(c.data.shift >= 0, "data.shift must be non-negative");
  require(c.model.arch == models::Arch::kMlp || c.data.shift < c.model.resolution,
          "data.shift " + std::to_string(c.data.shift) + " must be smaller than the image side " +
              std::to_string(c.model.resolution));
  const auto& r = c.reg;
  require(r.direal_tau_d >= 0 && r.direal_tau_d < 1 && r.direal_tau_g >= 0 && r.direal_tau_g < 1,
          "DiReAL thresholds must be in [0, 1)");
  require(r.label_smoothing > 0 && r.label_smoothing <= 1, "reg.label_smoothing (the real target) must be in (0, 1]");
  require(r.r1_interval >= 1, "reg.r1_interval must be at least 1");
  require(r.cr_shift >= 0 && r.cr_shift < 0.5, "reg.cr_shift must be in [0, 0.5)");
  for (double v : {r.direal_lambda_d, r.direal_lambda_g, r.gp_lambda, r.r1_gamma, r.cr_lambda, r.ha_lambda_d,
                   r.ha_lambda_g, r.split_loss_lambda})
    require(v >= 0, "regularizer weights must be non-negative");
  require(r.split_loss_lambda == 0 || c.model.arch == models::Arch::kSgan || c.model.mlp_banks > 0,
          "reg.split_loss_lambda needs stochastic banks (model.arch = \"sgan\", or mlp with model.mlp_banks > 0)");
  require(r.label_smoothing == 1.0 || t.loss == Loss::kBce, "reg.label_smoothing applies to the bce loss only");
  // The split loss pairs the samples of the global G batch (src/reg/split_loss.h).
  require(r.split_loss_lambda == 0 || c.g_batch() >= 2,
          "reg.split_loss_lambda pairs samples of the G batch: train.g_batch " + std::to_string(c.g_batch()) +
              " leaves fewer than 2");
  require(c.log.every > 0 && c.log.sample_every > 0 && c.log.sample_count > 0,
          "log intervals and counts must be positive");
  require(world_size > 0 && c.data.batch % world_size == 0, "data.batch " + std::to_string(c.data.batch) +
                                                                " must be a multiple of the world size " +
                                                                std::to_string(world_size));
  require(c.g_batch() % world_size == 0, "train.g_batch " + std::to_string(c.g_batch()) +
                                             " must be a multiple of the world size " + std::to_string(world_size));
  // Packing: every rank's share of both batches forms whole packs, and no per-sample input gradient is asked of D.
  const int64_t pack = c.model.pack;
  require(pack == 1 || (c.data.batch / world_size % pack == 0 && c.g_batch() / world_size % pack == 0),
          "model.pack " + std::to_string(pack) + ": data.batch and train.g_batch per rank (" +
              std::to_string(c.data.batch / world_size) + ", " + std::to_string(c.g_batch() / world_size) +
              ") must be multiples of it");
  require(!t.pack_slot_forward || pack == 1 || (c.model.mlp_banks == 0 && c.model.arch != models::Arch::kSgan),
          "train.pack_slot_forward with model.pack > 1 needs a G without stochastic banks (their routes follow "
          "contiguous sample indices)");
  // R1 is kept: its penalty is per D output, i.e. per pack (reg/gradient_penalties.h).
  require(pack == 1 || (!r.wgan_gp && r.grad_norm == reg::GradNorm::kNone),
          "model.pack > 1 does not combine with reg.wgan_gp or reg.grad_norm (they take D's gradient per sample "
          "or interpolate samples, D judges packs)");
  reg::check_compatible(c.model, {r.grad_norm, r.wgan_gp, r.r1_gamma > 0});
  check_mlp_fits(c.model);
  validate_eval(c);
  // The data: present, readable, and of the model's shape.
  if (c.model.arch == models::Arch::kMlp) {
    require(c.data.path.empty() && !c.data.mixture.empty(),
            std::string("model.arch = \"mlp\" trains on a 2-D mixture: set data.mixture (") + kMixtureNames +
                "), not data.path");
    parse("data.mixture", [&] { return mixture_by_name(c.data.mixture); });
    require(c.data.mixture_pool == 0 || c.data.mixture_pool >= c.data.batch,
            "data.mixture_pool " + std::to_string(c.data.mixture_pool) + " is smaller than data.batch " +
                std::to_string(c.data.batch));
    require(c.model.data_dim == 2, "data.mixture samples are 2-D: model.data_dim must be 2");
    return;
  }
  require(c.data.mixture.empty(), "data.mixture is for model.arch = \"mlp\" only");
  require(c.data.mixture_pool == 0, "data.mixture_pool is for model.arch = \"mlp\" only");
  require(!c.data.path.empty(), "data.path is required");
  data::OpenOptions open;
  open.file_locking = c.data.file_locking;
  const auto info = data::inspect_dataset(c.data.path, open);
  require(info.channels == c.model.channels && info.height == c.model.resolution && info.width == c.model.resolution,
          "data " + c.data.path + " holds " + std::to_string(info.channels) + "x" + std::to_string(info.height) + "x" +
              std::to_string(info.width) + " images, the model makes " + std::to_string(c.model.channels) + "x" +
              std::to_string(c.model.resolution) + "x" + std::to_string(c.model.resolution));
  require(c.data.batch <= info.count,
          "data.batch is larger than the dataset (" + std::to_string(info.count) + " images)");
}

TrainConfig load_config(const std::string& file, const std::vector<std::string>& overrides, int world_size) {
  TrainConfig c;
  auto fs = fields(c);
  if (!file.empty()) {
    if (!std::filesystem::exists(file)) throw std::invalid_argument("config: " + file + ": no such file");
    if (std::filesystem::is_directory(file))
      throw std::invalid_argument("config: " + file + ": is a folder, not a TOML file");
    try {
      apply_table(toml::parse_file(file), "", fs);
    } catch (const toml::parse_error& e) {
      std::ostringstream where;
      where << e.source().begin;
      throw std::invalid_argument("config: " + file + ": " + std::string(e.description()) + " at " + where.str());
    }
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--set expects key=value, not '" + o + "'");
    const std::string key = o.substr(0, eq), value = o.substr(eq + 1);
    auto it = std::find_if(fs.begin(), fs.end(), [&](const Field& f) { return f.key == key; });
    if (it == fs.end()) throw std::invalid_argument("config: unknown key '" + key + "' in --set");
    // The value as TOML (numbers, booleans, quoted strings); bare words are strings.
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + value);
    } catch (const toml::parse_error&) {
      parsed = toml::table{{"v", value}};
    }
    assign(*it, *parsed.get("v"));
  }
  validate(c, world_size);
  return c;
}

TrainConfig config_from_saved_toml(const std::string& text) {
  TrainConfig c;
  auto fs = fields(c);
  try {
    apply_table(toml::parse(text), "", fs);
  } catch (const toml::parse_error& e) {
    throw std::invalid_argument("saved config: " + std::string(e.description()));
  }
  c.model.seed = c.train.seed;
  models::validate(c.model);
  return c;
}

namespace {
std::string value_text(const Target& target) {
  return std::visit(
      [](const auto& p) -> std::string {
        using T = std::remove_pointer_t<std::decay_t<decltype(p)>>;
        if constexpr (std::is_same_v<T, ChoiceRef>)
          return "\"" + p.get() + "\"";
        else if constexpr (std::is_same_v<T, std::string>)
          return "\"" + *p + "\"";
        else if constexpr (std::is_same_v<T, bool>)
          return *p ? "true" : "false";
        else {
          std::ostringstream o;
          o << *p;
          return o.str();
        }
      },
      target);
}
}  // namespace

std::string checkpoint_incompatibility(const TrainConfig& saved, const TrainConfig& now) {
  auto& a = const_cast<TrainConfig&>(saved);  // fields() binds pointers; nothing is written
  auto& b = const_cast<TrainConfig&>(now);
  const auto fa = fields(a), fb = fields(b);
  for (size_t i = 0; i < fa.size(); ++i) {
    if (fa[i].key.rfind("model.", 0) != 0) continue;
    const auto va = value_text(fa[i].target), vb = value_text(fb[i].target);
    if (va != vb) return fa[i].key + ": checkpoint " + va + ", config " + vb;
  }
  for (auto [key, x, y] : {std::tuple{"reg.ha_lambda_d", saved.reg.ha_lambda_d, now.reg.ha_lambda_d},
                           std::tuple{"reg.ha_lambda_g", saved.reg.ha_lambda_g, now.reg.ha_lambda_g}})
    if ((x > 0) != (y > 0))
      return std::string(key) + ": historical averaging is " + (x > 0 ? "on" : "off") + " in the checkpoint, " +
             (y > 0 ? "on" : "off") + " in the config";
  return "";
}

std::string to_toml(const TrainConfig& config) {
  auto& c = const_cast<TrainConfig&>(config);  // fields() binds pointers; nothing is written
  toml::table root;
  for (const auto& f : fields(c)) {
    const auto dot = f.key.find('.');
    const std::string section = f.key.substr(0, dot), key = f.key.substr(dot + 1);
    if (!root.contains(section)) root.insert(section, toml::table{});
    auto& t = *root.get_as<toml::table>(section);
    std::visit(
        [&](const auto& p) {
          using T = std::remove_pointer_t<std::decay_t<decltype(p)>>;
          if constexpr (std::is_same_v<T, ChoiceRef>)
            t.insert(key, p.get());
          else if constexpr (std::is_same_v<T, uint64_t>)
            t.insert(key, static_cast<int64_t>(*p));
          else
            t.insert(key, *p);
        },
        f.target);
  }
  std::ostringstream out;
  out << root << "\n";
  return out.str();
}

}  // namespace gantry::train

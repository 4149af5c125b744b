#include "train/gan_trainer.h"

#include <sys/resource.h>
#ifdef GANTRY_HAVE_NCCL
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error_text.h"
#include "common/mixture2d.h"
#include "common/rng.h"
#include "dist/agreement.h"
#include "dist/all_gather_autograd.h"
#include "dist/communicator.h"
#include "dist/grad_sync.h"
#include "dist/replicas.h"
#include "models/networks.h"
#include "reg/consistency.h"
#include "reg/direal.h"
#include "train/ema.h"
#include "reg/feature_matching.h"
#include "reg/gradient_normalization.h"
#include "reg/gradient_penalties.h"
#include "reg/historical_averaging.h"
#include "reg/split_loss.h"
#include "train/batch_sources.h"
#include "train/checkpoint_file.h"
#include "train/checkpoint_layout.h"
#include "train/evaluation.h"
#include "train/fused_adam.h"
#include "train/losses.h"
#include "train/module_guards.h"
#include "train/point_outputs.h"
#include "train/run_dir.h"
#include "train/precision.h"
#include "train/sample_grid.h"
#include "train/step_profiler.h"
#include "train/step_timing.h"
#include "train/tensorboard_writer.h"

namespace gantry::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Purposes of random draws (key tags).
enum Tag : uint64_t { kZ = 1, kGpEps = 2, kCr = 3, kSampleZ = 4, kInit = 5 };

torch::Generator generator(uint64_t k) { return at::make_generator<at::CPUGeneratorImpl>(k); }

// Rows [rank·n/W, (rank+1)·n/W) of a global draw: the same samples whatever W.
torch::Tensor global_normal(uint64_t k, int64_t n, int64_t dim, int rank, int world) {
  const auto all = torch::randn({n, dim}, generator(k));
  return all.narrow(0, rank * (n / world), n / world);
}
torch::Tensor global_uniform(uint64_t k, int64_t n, int rank, int world) {
  const auto all = torch::rand({n}, generator(k));
  return all.narrow(0, rank * (n / world), n / world);
}

// ‖∇‖₂ over all parameters as a 0-d float32 tensor on the device (no sync): one
// multi-tensor norm. Non-finite iff some gradient element is (or the norm exceeds
// float32's range, ~3.4e38, which no usable gradient reaches).
torch::Tensor grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty())  // on the parameters' device: the step's flags are concatenated there
    return torch::zeros({}, torch::dtype(torch::kFloat).device(params.empty() ? torch::kCPU : params[0].device()));
  return at::stack(at::_foreach_norm(grads, 2)).norm();
}

// One step's metrics. Loss terms stay tensors on the device, so a step costs
// no device sync for them; they become numbers once per log line (resolve).
class StepMetrics {
 public:
  void add(const std::string& k, const torch::Tensor& v, double scale = 1.0) {
    auto x = v.detach().to(torch::kDouble) * scale;
    auto& slot = tensors_[k];
    slot = slot.defined() ? slot + x : x;
  }
  void set(const std::string& k, const torch::Tensor& v) { tensors_[k] = v.detach().to(torch::kDouble); }
  void add(const std::string& k, double v) { numbers_[k] += v; }
  void clear() {
    tensors_.clear();
    numbers_.clear();
  }
  // Every metric as a number (one copy from the device for all tensors).
  std::map<std::string, double> resolve() const {
    std::map<std::string, double> out = numbers_;
    if (tensors_.empty()) return out;
    std::vector<torch::Tensor> values;
    for (const auto& [k, v] : tensors_) values.push_back(v.reshape({}));
    const auto host = torch::stack(values).to(torch::kCPU);
    size_t i = 0;
    for (const auto& [k, v] : tensors_) out[k] = host[i++].item<double>();
    return out;
  }

 private:
  std::map<std::string, torch::Tensor> tensors_;
  std::map<std::string, double> numbers_;
};

// The split loss in float32 whatever precision G ran in.
std::vector<torch::Tensor> split_maps_fp32(const std::vector<torch::Tensor>& maps) {
  std::vector<torch::Tensor> out;
  for (const auto& m : maps) out.push_back(m.to(torch::kFloat));
  return out;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// Peak bytes the CUDA caching allocator handed out on this rank's device (MiB); 0 on the CPU.
double peak_device_mb(const torch::Device& device) {
#ifdef GANTRY_HAVE_NCCL
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak / 1048576.0;
  }
#endif
  (void)device;
  return 0;
}

// The step's learning rate and β1 (the schedules: train.lr_schedule, train.beta1_switch_step).
void set_step_options(torch::optim::Optimizer& opt, double lr, double beta1) {
  for (auto& g : opt.param_groups()) {
    auto& o = static_cast<torch::optim::AdamOptions&>(g.options());
    o.lr(lr).betas({beta1, std::get<1>(o.betas())});
  }
}

torch::optim::AdamOptions adam_options(const OptimConfig& o) {
  return torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2});
}

class Trainer {
 public:
  Trainer(dist::World& world, TrainConfig cfg, TrainOptions opt)
      : world_(world), comm_(world.comm()), cfg_(std::move(cfg)), opt_(std::move(opt)) {}

  // Everything this rank can make without a collective: models, optimizers,
  // regularizers, the resumed state (each rank reads the same checkpoint) and
  // the data source. What fails for want of memory or a readable file fails here.
  void prepare();
  // Rank 0's state becomes everyone's, then training. After prepare() on every rank.
  int run(const std::atomic<int>& stop);

 private:
  void build();
  void resume();
  CheckpointParts checkpoint_parts();  // every part of the state a checkpoint holds (checkpoint_layout.h)
  // `position`: the data position to record (default: the loader's, after the batches used so far).
  void save(const data::SamplerState* position = nullptr);
  // Fetches this step's n_dis batches into batches_ (the data-wait time goes into m).
  void fetch_batches(StepMetrics& m);
  void samples();
  // Per-rank batch norm (model.sync_batch_norm = false on several ranks) normalises each
  // rank's batch by its own statistics, so the running estimates drift apart. Where they
  // are used — checkpoints, samples, evaluation — every rank takes their mean over ranks
  // (for the running means: exactly the running mean of the global batch means, the
  // per-rank batches being equal), and the replicas agree again. Collective; once a step.
  void agree_on_running_stats();
  int64_t stats_agreed_step_ = -1;
  // A "gantry: ..." line on stderr from rank 0 only (every rank knows the same thing).
  template <class... Args>
  void say(const char* format, Args... args) const {
    if (world_.rank() != 0) return;
    std::fputs("gantry: ", stderr);
    std::fprintf(stderr, format, args...);
    std::fputc('\n', stderr);
  }
  void evaluate();
  void d_step(int64_t t, int64_t k, StepMetrics& m);
  void g_step(int64_t t, StepMetrics& m);
  void log(int64_t t, const StepMetrics& step_metrics, double dt, int64_t n_steps);
  void update(const std::vector<torch::Tensor>& params, FusedAdam& opt, const char* who, StepMetrics& m);
  CollectiveUse collectives_so_far() const {
    return {comm_.blocked_calls(), comm_.blocked_bytes(), comm_.blocked_seconds()};
  }
  void note_timing(const char* phase, const dist::GradSync& sync, const CollectiveUse& before, StepMetrics& m);
  int64_t count_skipped_updates();
  torch::Tensor g_forward(const torch::Tensor& z);
  // The fakes of a training phase: g_forward, or with train.pack_slot_forward one G call per pack slot.
  torch::Tensor g_fakes(const torch::Tensor& z);
  models::DOutput d_forward(const torch::Tensor& x);
  int64_t phase_id(int64_t t, int64_t k) const { return t * (cfg_.train.n_dis + 1) + k; }
  // D's logits for x as the losses see them: normalised by GN/PGN when reg.grad_norm is on (`out`: D's raw output).
  torch::Tensor critic_logits(const torch::Tensor& x, models::DOutput* out = nullptr);

  dist::World& world_;
  dist::Communicator& comm_;
  TrainConfig cfg_;
  TrainOptions opt_;
  torch::Device device_{torch::kCPU};
  std::shared_ptr<models::Generator> g_, g_ema_;
  std::shared_ptr<models::Discriminator> d_;
  std::unique_ptr<FusedAdam> opt_g_, opt_d_;
  bool bf16_ = false;
  // Each phase's "update skipped" flag (0-d, on the device) and whose it was; read once per step.
  std::vector<std::pair<const char*, torch::Tensor>> phase_skips_;
  std::unique_ptr<dist::GradSync> sync_g_, sync_d_;
  std::unique_ptr<data::BatchSource> loader_;
  std::deque<data::Batch> batches_;  // this step's batches, one per D phase
  std::unique_ptr<reg::Direal> direal_g_, direal_d_;
  std::unique_ptr<reg::HistoricalAverage> ha_g_, ha_d_;
  std::unique_ptr<Ema> ema_;
  std::unique_ptr<eval::FeatureNet> feature_net_;
  data::SamplerState start_state_;
  int64_t step_ = 0, images_seen_ = 0, d_steps_ = 0, bad_streak_ = 0, skipped_ = 0;
  torch::Tensor last_real_;
  // Lazy R1's last applied term, logged in D phases where R1 is not due, so that a log step that falls
  // between due steps still shows the penalty being paid (undefined after a resume until the next due step).
  torch::Tensor last_r1_;
  std::ofstream metrics_;
  std::unique_ptr<TensorBoardWriter> tb_;   // rank 0
  std::unique_ptr<StepProfiler> profiler_;  // GANTRY_PROFILE, rank 0
  StepTimingLog timing_log_;                // log.timing
  std::ofstream timing_;                    // rank 0: timing.jsonl
  Clock::time_point started_;
};

void Trainer::build() {
  device_ = world_.device();
  // Denormal floats are flushed to zero: loss terms such as the split loss's tanh(((a−b)/25)⁴) of
  // nearly equal maps produce them, and x86 arithmetic on denormals is ~100× slower.
  at::globalContext().setFlushDenormal(true);
  const auto& c = cfg_;
  torch::manual_seed(key(c.train.seed, kInit));
  g_ = models::build_generator(c.model, &comm_);
  d_ = models::build_discriminator(c.model, &comm_);
  g_ema_ = models::build_generator(c.model, &comm_);
  g_->to(device_);
  d_->to(device_);
  g_ema_->to(device_);
  ema_ = std::make_unique<Ema>(g_, g_ema_, c.train.ema_beta, c.train.ema_start);
  g_ema_->eval();
  bf16_ = c.train.precision == Precision::kBf16;
  auto adam = [](std::vector<torch::Tensor> p, const OptimConfig& o) {
    return std::make_unique<FusedAdam>(std::move(p), adam_options(o));
  };
  opt_g_ = adam(g_->parameters(), c.train.g);
  opt_d_ = adam(d_->parameters(), c.train.d);
  dist::GradSyncOptions sync_options;
  sync_options.overlap = c.train.grad_sync_overlap;
  sync_options.bucket_cap_bytes = static_cast<std::size_t>(c.train.bucket_cap_mb * (1 << 20));
  sync_options.first_bucket_cap_bytes = std::min(sync_options.first_bucket_cap_bytes, sync_options.bucket_cap_bytes);
  sync_options.timing = c.log.timing;
  // Stochastic banks make G's backward graph depend on each rank's routes, so the
  // order in which autograd reaches G's gradient hooks and the collectives of
  // synchronized BN's backward differs between ranks: buckets launched from
  // those hooks would interleave differently with them, and collectives must be
  // issued in one order on every rank (2 ranks × 8 samples of fmnist_sgan_split
  // corrupted the heap). G's buckets are then reduced after backward.
  auto g_sync_options = sync_options;
  if (c.model.arch == models::Arch::kSgan || c.model.mlp_banks > 0) g_sync_options.overlap = false;
  sync_g_ = std::make_unique<dist::GradSync>(*g_, comm_, g_sync_options);
  sync_d_ = std::make_unique<dist::GradSync>(*d_, comm_, sync_options);
  if (c.reg.direal_d)
    direal_d_ = std::make_unique<reg::Direal>(reg::direal_layers(*d_, c.reg.direal_layers),
                                              reg::DirealOptions{c.reg.direal_tau_d, c.reg.direal_lambda_d});
  if (c.reg.direal_g)
    direal_g_ = std::make_unique<reg::Direal>(reg::direal_layers(*g_, c.reg.direal_layers),
                                              reg::DirealOptions{c.reg.direal_tau_g, c.reg.direal_lambda_g});
  if (c.reg.ha_lambda_d > 0) ha_d_ = std::make_unique<reg::HistoricalAverage>(d_->parameters(), c.reg.ha_lambda_d);
  if (c.reg.ha_lambda_g > 0) ha_g_ = std::make_unique<reg::HistoricalAverage>(g_->parameters(), c.reg.ha_lambda_g);
}

void Trainer::resume() {
  auto ckpt = load_newest_valid(opt_.run_dir, world_.rank() == 0, device_);
  if (!ckpt) return;
  check_resumable(*ckpt, opt_.run_dir, cfg_);
  const auto counters = read_checkpoint_parts(ckpt->archive, checkpoint_parts());
  step_ = counters.step;
  images_seen_ = counters.images_seen;
  d_steps_ = counters.d_steps;
  start_state_ = {counters.sampler_epoch, counters.sampler_offset};
  say("resuming from %s (step %lld, saved on %lld ranks, now %d)", ckpt->path.c_str(), (long long)step_,
      (long long)counters.world_size, world_.size());
}

CheckpointParts Trainer::checkpoint_parts() {
  return {g_.get(), d_.get(), g_ema_.get(), opt_g_.get(), opt_d_.get(), ha_g_.get(), ha_d_.get()};
}

void Trainer::agree_on_running_stats() {
  if (cfg_.model.sync_batch_norm || world_.size() == 1 || stats_agreed_step_ == step_) return;
  stats_agreed_step_ = step_;
  std::vector<torch::Tensor> stats;
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(g_.get()), static_cast<torch::nn::Module*>(d_.get()),
                               static_cast<torch::nn::Module*>(g_ema_.get())})
    for (const auto& b : m->named_buffers())
      if (b.key().ends_with("running_mean") || b.key().ends_with("running_var")) stats.push_back(b.value());
  if (stats.empty()) return;
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> flat;
  for (const auto& s : stats) flat.push_back(s.reshape({-1}));
  auto all = torch::cat(flat);
  comm_.all_reduce(all, dist::ReduceOp::kAverage);
  int64_t at = 0;
  for (auto& s : stats) {
    s.copy_(all.narrow(0, at, s.numel()).view(s.sizes()));
    at += s.numel();
  }
}

void Trainer::save(const data::SamplerState* position) {
  agree_on_running_stats();
  // Every rank takes part in the consistency check of everything the checkpoint holds; rank 0 writes.
  const auto report = dist::check_consistency(replicated_tensors(checkpoint_parts()), comm_);
  if (!report.consistent) throw std::runtime_error("replicas diverged before checkpointing: " + report.message());
  if (world_.rank() != 0) return;
  const auto pos = position ? *position : loader_->state();
  CheckpointCounters counters;
  counters.step = step_;
  counters.images_seen = images_seen_;
  counters.d_steps = d_steps_;
  counters.sampler_epoch = pos.epoch;
  counters.sampler_offset = pos.offset;
  counters.world_size = world_.size();
  counters.param_hash = static_cast<int64_t>(report.hash);
  torch::serialize::OutputArchive a;
  write_checkpoint_parts(a, checkpoint_parts(), counters, to_toml(cfg_));
  write_checkpoint(opt_.run_dir, step_, a, cfg_.train.keep_checkpoints);
}

void Trainer::samples() {
  if (world_.rank() != 0) return;
  torch::NoGradGuard ng;
  fs::create_directories(opt_.run_dir / "samples");
  const auto z =
      torch::randn({cfg_.log.sample_count, cfg_.model.z_dim}, generator(key(cfg_.train.seed, kSampleZ))).to(device_);
  char name[64];
  for (auto [g, prefix] : {std::pair{g_, "g"}, std::pair{g_ema_, "g_ema"}}) {
    torch::Tensor x;
    {
      const EvalMode eval_mode(*g);
      g->set_route_context({0, 0});
      x = g->forward(z);
    }
    if (cfg_.model.arch == models::Arch::kMlp) {  // 2-D points: a CSV and a scatter plot over the modes
      const auto mixture = mixture_by_name(cfg_.data.mixture);
      for (const char* ext : {"csv", "png"}) {
        std::snprintf(name, sizeof name, "%s-%09lld.%s", prefix, (long long)step_, ext);
        write_points(x, mixture, (opt_.run_dir / "samples" / name).string());
      }
      continue;
    }
    std::snprintf(name, sizeof name, "%s-%09lld.png", prefix, (long long)step_);
    write_png_grid(x, (opt_.run_dir / "samples" / name).string());
    tb_->image_grid(std::string("samples/") + prefix, x, step_);
  }
}

void Trainer::evaluate() {
  agree_on_running_stats();
  // Every rank generates its share (evaluation.h); rank 0 logs.
  const auto& e = cfg_.eval;
  EvalRequest req;
  req.metrics = eval::parse_metric_set(e.metrics);
  req.count = e.count;
  req.ema = e.ema;
  req.bn_standing = e.bn_standing;
  req.seed = cfg_.train.seed;
  if (req.metrics.needs_feature_net() && !feature_net_)
    feature_net_ = std::make_unique<eval::FeatureNet>(e.feature_net, device_);
  auto& g = e.ema ? *g_ema_ : *g_;
  const auto result = train::evaluate(g, d_.get(), cfg_, step_, comm_, device_, req, feature_net_.get());
  if (world_.rank() != 0) return;
  metrics_ << result.dump() << "\n";
  metrics_.flush();
  for (const auto& [name, value] : eval_scalars(result)) tb_->scalar(name, value, step_);
  tb_->flush();
  if (!opt_.quiet) std::fprintf(stderr, "eval step %lld: %s\n", (long long)step_, result.dump().c_str());
}

torch::Tensor Trainer::critic_logits(const torch::Tensor& x, models::DOutput* out) {
  const auto kind = cfg_.reg.grad_norm;
  if (kind == reg::GradNorm::kNone) {
    auto o = d_forward(x);
    if (out) *out = o;
    return o.logits;
  }
  const auto xi = x.requires_grad() ? x : x.detach().requires_grad_(true);
  auto o = d_forward(xi);
  if (out) *out = o;
  return reg::normalize_output(kind, o.logits, xi);
}

torch::Tensor Trainer::g_forward(const torch::Tensor& z) {
  if (!bf16_) return g_->forward(z);
  AutocastGuard autocast(device_, true);
  return g_->forward(z).to(torch::kFloat);  // what D, losses and penalties see: float32
}

torch::Tensor Trainer::g_fakes(const torch::Tensor& z) {
  const int64_t m = cfg_.model.pack;
  if (m == 1 || !cfg_.train.pack_slot_forward) return g_forward(z);
  // PacGAN's code makes the m fakes of a pack with m separate G calls (one per slot), so G's batch norm
  // normalizes each slot's group. Slot k holds the rows i·m + k: pack i is then exactly (slot 0's row i, …,
  // slot m−1's row i), and since every rank's share starts at a multiple of m, the global slot groups are
  // the same on any world size (synchronized BN reduces each call over the ranks).
  const auto slots = z.view({z.size(0) / m, m, z.size(1)});
  std::vector<torch::Tensor> out;
  for (int64_t k = 0; k < m; ++k) out.push_back(g_forward(slots.select(1, k).contiguous()));
  return torch::stack(out, 1).flatten(0, 1);
}

models::DOutput Trainer::d_forward(const torch::Tensor& x) {
  const auto input = in_layout(models::pack_samples(x, cfg_.model.pack), cfg_.train.channels_last);
  if (!bf16_) return d_->forward(input);
  models::DOutput o;
  {
    AutocastGuard autocast(device_, true);
    o = d_->forward(input);
  }
  o.logits = o.logits.to(torch::kFloat);
  if (o.features.defined()) o.features = o.features.to(torch::kFloat);
  return o;
}

void Trainer::update(const std::vector<torch::Tensor>& params, FusedAdam& opt, const char* who, StepMetrics& m) {
  // Gradients are averaged across ranks, so they are identical everywhere: a non-finite
  // one on any rank makes the norm non-finite on all, and every rank skips together.
  // The decision stays on the device (the fused kernel's skip flag): no sync here.
  RECORD_USER_SCOPE("gantry::optimizer");
  const auto norm = grad_norm(params);
  m.set(std::string("grad_norm_") + who, norm);
  const auto skip = norm.isfinite().logical_not();
  opt.step_unless(skip);
  phase_skips_.emplace_back(who, skip);
  // No zero_grad: the gradients are views of GradSync's buckets (or autograd's at one rank),
  // which the next begin() drops.
}

int64_t Trainer::count_skipped_updates() {
  // The step's one device→host read: which phases skipped their update.
  std::vector<torch::Tensor> flags;
  for (const auto& [who, flag] : phase_skips_) flags.push_back(flag.reshape({1}));
  const auto host = torch::cat(flags).to(torch::kCPU, torch::kBool);
  int64_t skipped = 0;
  for (size_t i = 0; i < phase_skips_.size(); ++i) {
    if (!host.data_ptr<bool>()[i]) continue;
    ++skipped;
    say("step %lld: non-finite %s gradient, update skipped", (long long)step_, phase_skips_[i].first);
  }
  phase_skips_.clear();
  return skipped;
}

// log.timing: the phase's exposed communication is what GradSync::finish waited
// beyond backward plus the host time of the phase's synchronous collectives
// (synchronized BN, minibatch discrimination, feature matching).
void Trainer::note_timing(const char* phase, const dist::GradSync& sync, const CollectiveUse& before, StepMetrics& m) {
  const auto& t = sync.timing();
  const auto now = collectives_so_far();
  const CollectiveUse used{now.calls - before.calls, now.bytes - before.bytes, now.seconds - before.seconds};
  m.add(std::string("time_") + phase + "_comm_s", t.exposed_s + used.seconds);
  m.add(std::string("time_") + phase + "_backward_s", t.backward_s);
  if (world_.rank() == 0) timing_log_.add(phase, t, used);
}

void Trainer::fetch_batches(StepMetrics& m) {
  RECORD_USER_SCOPE("gantry::data_wait");
  const auto t0 = Clock::now();
  while (static_cast<int64_t>(batches_.size()) < cfg_.train.n_dis) batches_.push_back(loader_->next());
  m.add("time_data_s", std::chrono::duration<double>(Clock::now() - t0).count());
}

void Trainer::d_step(int64_t t, int64_t k, StepMetrics& m) {
  RECORD_USER_SCOPE("gantry::d_phase");
  const auto& c = cfg_;
  const int rank = world_.rank(), world = world_.size();
  auto batch = std::move(batches_.front());
  batches_.pop_front();
  const auto t1 = Clock::now();
  const auto collectives0 = collectives_so_far();  // G's forward for the fakes synchronizes BN too
  const auto real = in_layout(batch.images, c.train.channels_last);
  last_real_ = real;
  const int64_t b = real.size(0);
  const auto z = global_normal(key(c.train.seed, kZ, t, k), c.data.batch, c.model.z_dim, rank, world).to(device_);
  torch::Tensor fake;
  {
    torch::NoGradGuard ng;
    g_->set_route_context({phase_id(t, k), rank * b});
    fake = g_fakes(z);
  }
  if (ha_d_) ha_d_->update();
  sync_d_->begin();
  torch::Tensor f_real, f_fake;
  if (c.reg.grad_norm != reg::GradNorm::kNone) {
    const auto f = critic_logits(torch::cat({real, fake}).requires_grad_(true));
    f_real = f.narrow(0, 0, b);
    f_fake = f.narrow(0, b, fake.size(0));
  } else {
    f_real = d_forward(real).logits;
    f_fake = d_forward(fake).logits;
  }
  auto loss = d_loss(c.train.loss, f_real, f_fake, c.reg.label_smoothing);
  const double per_d = 1.0 / c.train.n_dis;  // D metrics: means over the n_dis phases
  m.add("loss_d_adv", loss, per_d);
  m.add("d_real", f_real.mean(), per_d);
  m.add("d_fake", f_fake.mean(), per_d);
  const reg::Critic critic = [&](const torch::Tensor& x) { return d_forward(x).logits; };
  auto add = [&](const char* name, const torch::Tensor& term) {
    m.add(name, term, per_d);
    loss = loss + term;
  };
  if (c.reg.wgan_gp) {
    const auto eps = global_uniform(key(c.train.seed, kGpEps, t, k), c.data.batch, rank, world).to(device_);
    add("gp", reg::wgan_gp(critic, real, fake, eps, c.reg.gp_lambda));
  }
  if (c.reg.r1_gamma > 0) {
    if (reg::r1_due({c.reg.r1_gamma, c.reg.r1_interval}, d_steps_)) {
      const auto r1 = reg::r1_penalty(critic, real, {c.reg.r1_gamma, c.reg.r1_interval});
      last_r1_ = r1.detach();
      add("r1", r1);
    } else if (last_r1_.defined()) {
      m.add("r1", last_r1_, per_d);  // logged only: loss_d does not include it
    }
  }
  if (c.reg.cr_lambda > 0) {
    const auto aug =
        reg::cr_augment(real, c.reg.cr_shift, generator(key(c.train.seed, kCr, phase_id(t, k), rank))).to(device_);
    add("cr", reg::consistency_term(f_real, critic_logits(aug), c.reg.cr_lambda));
  }
  if (direal_d_) {
    const auto r = direal_d_->value();
    m.add("direal_d", r, per_d);  // R(D), unweighted
    add("direal_d_term", direal_d_->lambda() * r);
  }
  if (ha_d_) add("ha_d", ha_d_->penalty());
  if (opt_.d_loss_hook) loss = opt_.d_loss_hook(t, rank, loss);
  m.add("loss_d", loss, per_d);
  sync_d_->mark_backward_start();
  loss.backward();
  {
    RECORD_USER_SCOPE("gantry::grad_sync_finish");
    sync_d_->finish();
  }
  if (c.log.timing) note_timing("d", *sync_d_, collectives0, m);
  update(d_->parameters(), *opt_d_, "d", m);
  m.add("time_d_s", std::chrono::duration<double>(Clock::now() - t1).count());
  ++d_steps_;
  images_seen_ += c.data.batch;
}

void Trainer::g_step(int64_t t, StepMetrics& m) {
  RECORD_USER_SCOPE("gantry::g_phase");
  const auto& c = cfg_;
  const int rank = world_.rank(), world = world_.size();
  const int64_t gb = c.g_batch(), b = gb / world;
  const auto t0 = Clock::now();
  const FrozenParameters frozen_d(d_->parameters());  // D's gradients are neither computed nor reduced here
  if (ha_g_) ha_g_->update();
  const auto collectives0 = collectives_so_far();
  sync_g_->begin();
  const auto z = global_normal(key(c.train.seed, kZ, t, c.train.n_dis), gb, c.model.z_dim, rank, world).to(device_);
  g_->set_route_context({phase_id(t, c.train.n_dis), rank * b});
  const auto fake = g_fakes(z);
  models::DOutput out;
  const auto f = critic_logits(fake, &out);
  auto loss = g_loss(c.train.loss, f);
  m.set("loss_g_adv", loss);
  auto add = [&](const char* name, const torch::Tensor& term) {
    m.set(name, term);
    loss = loss + term;
  };
  if (c.reg.feature_matching) {
    torch::Tensor real_features;
    {
      torch::NoGradGuard ng;
      real_features = d_forward(last_real_).features;
    }
    add("fm", reg::feature_matching_loss(real_features, out.features, c.reg.fm_distance, &comm_));
  }
  if (direal_g_) {
    const auto r = direal_g_->value();
    m.set("direal_g", r);  // R(G), unweighted
    add("direal_g_term", direal_g_->lambda() * r);
  }
  if (ha_g_) add("ha_g", ha_g_->penalty());
  if (c.reg.split_loss_lambda > 0) {
    // Pairs over the global G batch, as one rank forms them: every rank's maps, gradient path kept.
    auto maps = split_maps_fp32(g_->split_maps());
    if (world > 1)
      for (auto& map : maps) map = dist::all_gather_with_grad(map.contiguous(), comm_);
    add("split", c.reg.split_loss_lambda * reg::split_loss(maps, reg::split_loss_weights(maps.size())));
  }
  m.set("loss_g", loss);
  sync_g_->mark_backward_start();
  loss.backward();
  {
    RECORD_USER_SCOPE("gantry::grad_sync_finish");
    sync_g_->finish();
  }
  if (c.log.timing) note_timing("g", *sync_g_, collectives0, m);
  update(g_->parameters(), *opt_g_, "g", m);
  {
    RECORD_USER_SCOPE("gantry::ema");
    ema_->update(t);
  }
  m.add("time_g_s", std::chrono::duration<double>(Clock::now() - t0).count());
}

void Trainer::log(int64_t t, const StepMetrics& step_metrics, double dt, int64_t n_steps) {
  auto m = step_metrics.resolve();
  // Average every metric over ranks (same keys in the same order everywhere).
  std::vector<double> values;
  for (const auto& [k, v] : m) values.push_back(v);
  auto tensor = torch::tensor(values, torch::kDouble);
  comm_.all_reduce(tensor, dist::ReduceOp::kAverage);
  size_t i = 0;
  for (auto& [k, v] : m) v = tensor[i++].item<double>();
  if (world_.rank() != 0) return;
  if (cfg_.log.timing) timing_log_.write(timing_, t + 1, world_.size(), cfg_.train.grad_sync_overlap);
  const double img_s = n_steps * cfg_.data.batch * cfg_.train.n_dis / dt;
  nlohmann::json j = {{"step", t + 1},
                      {"images_seen", images_seen_},
                      {"img_s", img_s},
                      {"s_per_kimg", 1000.0 / img_s},
                      {"skipped_updates", skipped_},
                      {"peak_rss_mb", peak_rss_mb()},
                      {"ranks", world_.size()}};
  if (device_.is_cuda()) j["peak_gpu_mb"] = peak_device_mb(device_);  // rank 0's device
  for (const auto& [k, v] : m) j[k] = v;
  metrics_ << j.dump() << "\n";
  metrics_.flush();
  for (const auto& [k, v] : j.items())
    if (v.is_number() && k != "step") tb_->scalar(k, v.get<double>(), t + 1);
  tb_->flush();
  if (!opt_.quiet) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const double eta = (cfg_.train.steps - t - 1) * dt / std::max<int64_t>(n_steps, 1);
    std::fprintf(stderr, "step %lld/%lld | %.0f img/s | ETA %lld:%02lld | loss_d %.4f loss_g %.4f | %.0f s\n",
                 (long long)(t + 1), (long long)cfg_.train.steps, img_s, (long long)(eta / 60), (long long)eta % 60,
                 m["loss_d"], m["loss_g"], elapsed);
  }
}

void Trainer::prepare() {
  build();
  resume();
  loader_ = make_batch_source(cfg_, start_state_, world_.rank(), world_.size(), device_);
}

int Trainer::run(const std::atomic<int>& stop) {
  // Rank 0's state (initial or resumed: weights, SN vectors, VBN reference, the EMA) becomes
  // everyone's; on resume every rank loaded the same checkpoint, so this changes nothing.
  dist::broadcast_parameters(*g_, comm_);
  dist::broadcast_parameters(*d_, comm_);
  dist::broadcast_parameters(*g_ema_, comm_);
  if (cfg_.train.channels_last) {  // after resume: loading a checkpoint brings its tensors' layout
    use_channels_last(*g_);
    use_channels_last(*d_);
    use_channels_last(*g_ema_);
  }
  if (world_.rank() == 0) {
    fs::create_directories(opt_.run_dir);
    // The resolved config, for people and tools (bench/results.py compares it with `gantry config` before it
    // reuses a run): replaced atomically, so a reader never sees it empty while a run restarts.
    const std::string config_text = to_toml(cfg_);
    write_bytes_atomically(opt_.run_dir / "config.toml", {config_text});
    metrics_.open(opt_.run_dir / "metrics.jsonl", std::ios::app);
    if (cfg_.log.timing) timing_.open(opt_.run_dir / "timing.jsonl", std::ios::app);
    tb_ = std::make_unique<TensorBoardWriter>((opt_.run_dir / "tensorboard").string());
  }
  profiler_ = StepProfiler::from_env(world_.rank(), device_.is_cuda());
  started_ = Clock::now();
  auto window = Clock::now();
  int64_t window_steps = 0;
  StepMetrics m;
  int exit_code = 0;
  for (; step_ < cfg_.train.steps;) {
    const int64_t t = step_;
    // This step's batches come first, so that a data error on one rank (a damaged chunk)
    // joins the step-boundary agreement below: every rank stops with one line, exit 1 or 2,
    // instead of one rank aborting the job.
    const auto position = loader_->state();  // what a stop at this boundary checkpoints
    std::string data_error;
    int data_code = 0;
    try {
      fetch_batches(m);
    } catch (const std::exception& e) {
      data_error = one_line(e);
      data_code = exit_code_for(e);
    }
    // Agree on a stop request and on failed reads: {stop, failed ranks, ranks failed with exit 1}.
    auto flag = torch::tensor({static_cast<double>(stop.load()), data_code > 0 ? 1.0 : 0.0, data_code == 1 ? 1.0 : 0.0},
                              torch::kDouble);
    comm_.all_reduce(flag, dist::ReduceOp::kSum);
    const auto agreed = flag.accessor<double, 1>();
    if (agreed[1] > 0) {
      const std::string message = dist::agreed_error(world_, data_error);
      say("%s", message.c_str());
      exit_code = agreed[2] > 0 ? 1 : 2;
      break;
    }
    if (agreed[0] > 0) {
      say("stop requested: checkpointing at step %lld", (long long)t);
      batches_.clear();
      save(&position);
      exit_code = kExitPreempted;
      break;
    }
    const double lr_scale =
        cfg_.train.lr_schedule == LrSchedule::kLinear ? 1.0 - static_cast<double>(t) / cfg_.train.steps : 1.0;
    const bool switched = cfg_.train.beta1_switch_step > 0 && t >= cfg_.train.beta1_switch_step;
    set_step_options(*opt_g_, cfg_.train.g.lr * lr_scale, switched ? cfg_.train.beta1_switch_to : cfg_.train.g.beta1);
    set_step_options(*opt_d_, cfg_.train.d.lr * lr_scale, switched ? cfg_.train.beta1_switch_to : cfg_.train.d.beta1);
    if (profiler_) profiler_->before_step(t);
    const auto step_start = Clock::now();
    for (int64_t k = 0; k < cfg_.train.n_dis; ++k) d_step(t, k, m);
    g_step(t, m);
    const int64_t skipped_now = count_skipped_updates();
    if (cfg_.log.timing) m.add("time_step_s", std::chrono::duration<double>(Clock::now() - step_start).count());
    if (profiler_) profiler_->after_step(t);
    skipped_ += skipped_now;
    step_ = t + 1;
    // A step with a skipped update is bad; too many bad steps in a row end the run
    // (exit 1) without checkpointing any of them: the last checkpoint is of a good step.
    bad_streak_ = skipped_now > 0 ? bad_streak_ + 1 : 0;
    if (bad_streak_ >= cfg_.train.max_bad_steps)
      throw std::runtime_error(
          std::to_string(bad_streak_) +
          " steps in a row with non-finite gradients: stopping; the last checkpoint is of a good step");
    ++window_steps;
    if (step_ % cfg_.log.every == 0 || step_ == cfg_.train.steps) {
      log(t, m, std::chrono::duration<double>(Clock::now() - window).count(), window_steps);
      window = Clock::now();
      window_steps = 0;
    }
    m.clear();
    if ((step_ % cfg_.train.checkpoint_every == 0 || step_ == cfg_.train.steps) && bad_streak_ == 0) save();
    if (step_ % cfg_.log.sample_every == 0 || step_ == cfg_.train.steps) {
      agree_on_running_stats();
      samples();
    }
    if (cfg_.eval.every > 0 && (step_ % cfg_.eval.every == 0 || step_ == cfg_.train.steps)) evaluate();
  }
  if (world_.rank() == 0 && exit_code == 0) {
    nlohmann::json j = {{"done", true},
                        {"step", step_},
                        {"images_seen", images_seen_},
                        {"skipped_updates", skipped_},
                        {"seconds", std::chrono::duration<double>(Clock::now() - started_).count()}};
    std::printf("%s\n", j.dump().c_str());
  }
  return exit_code;
}

}  // namespace

struct TrainingRun::Impl {
  Impl(dist::World& world, TrainConfig config, TrainOptions options)
      : trainer(world, std::move(config), std::move(options)) {}
  Trainer trainer;
};

TrainingRun::TrainingRun(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrainingRun::~TrainingRun() = default;

std::unique_ptr<TrainingRun> prepare_training(dist::World& world, TrainConfig config, const TrainOptions& options) {
  auto impl = std::make_unique<TrainingRun::Impl>(world, std::move(config), options);
  impl->trainer.prepare();
  return std::make_unique<TrainingRun>(std::move(impl));
}

int TrainingRun::run(const std::atomic<int>& stop) { return impl_->trainer.run(stop); }

}  // namespace gantry::train

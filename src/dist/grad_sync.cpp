#include "dist/grad_sync.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <map>
#include <tuple>

#include "dist/error.h"

namespace gantry::dist {

namespace {
std::vector<std::pair<std::string, torch::Tensor>> trainable(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
  }
  return out;
}
}  // namespace

GradSync::GradSync(const torch::nn::Module& module, Communicator& comm, GradSyncOptions options)
    : GradSync(trainable(module), comm, options) {}

GradSync::GradSync(std::vector<std::pair<std::string, torch::Tensor>> named_params, Communicator& comm,
                   GradSyncOptions options)
    : comm_(comm),
      options_(options),
      passthrough_(comm.size() == 1 && !options.buckets_on_one_rank),
      inv_world_(1.0 / comm.size()),
      inv_world_tensor_(torch::scalar_tensor(1.0 / comm.size(), torch::kDouble)) {
  for (auto& [name, t] : named_params) {
    if (!t.requires_grad()) continue;  // frozen parameters are not synchronised
    if (!t.is_leaf()) throw DistError("GradSync: parameter " + name + " is not a leaf tensor");
    params_.push_back(Param{name, t});
  }
  build_buckets();
  if (options_.timing && !params_.empty()) timeline_ = std::make_unique<Timeline>(params_.front().tensor.device());
  for (std::size_t i = 0; i < params_.size(); ++i) {
    params_[i].hook = params_[i].tensor.register_hook([this, i](const torch::Tensor& grad) { on_grad(i, grad); });
  }
}

GradSync::~GradSync() {
  for (auto& p : params_) p.tensor.remove_hook(p.hook);
}

void GradSync::build_buckets() {
  // One open bucket per (device, dtype). Reverse registration order
  // approximates the order in which backward produces gradients, so the
  // first (small) bucket fills first and its reduce starts early.
  std::map<std::tuple<std::string, int>, std::size_t> open;
  std::map<std::tuple<std::string, int>, std::size_t> groups;  // (device, dtype) → group index
  std::vector<std::int64_t> bytes;
  for (std::size_t k = params_.size(); k-- > 0;) {
    Param& p = params_[k];
    check_collective_dtype(p.tensor, "GradSync");
    const auto key = std::make_tuple(p.tensor.device().str(), static_cast<int>(p.tensor.scalar_type()));
    const std::int64_t nbytes = p.tensor.numel() * p.tensor.element_size();
    auto it = open.find(key);
    if (it != open.end()) {
      const std::size_t cap = it->second == 0 ? options_.first_bucket_cap_bytes : options_.bucket_cap_bytes;
      if (bytes[it->second] + nbytes > static_cast<std::int64_t>(cap)) it = open.end();  // full: start another
    }
    if (it == open.end()) {
      buckets_.emplace_back();
      bytes.push_back(0);
      buckets_.back().group = groups.emplace(key, groups.size()).first->second;
      it = open.insert_or_assign(key, buckets_.size() - 1).first;
    }
    Bucket& b = buckets_[it->second];
    p.bucket = it->second;
    p.slot = b.params.size();
    p.offset = b.grad_numel;
    b.grad_numel += p.tensor.numel();
    b.params.push_back(k);
    b.bytes += nbytes;
    bytes[it->second] += nbytes;
  }
  // Each group's buckets, in index order, are consecutive views of one buffer: the
  // communicator's reduce buffer (on one host, shared memory that the peers read directly).
  std::vector<std::int64_t> group_numel(groups.size(), 0);
  std::vector<torch::TensorOptions> group_options(groups.size());
  for (auto& b : buckets_) {
    b.offset = group_numel[b.group];
    group_numel[b.group] += b.grad_numel + static_cast<std::int64_t>(b.params.size());
    group_options[b.group] = params_[b.params.front()].tensor.options().requires_grad(false);
  }
  for (std::size_t g = 0; g < groups.size(); ++g)
    group_buffers_.push_back(comm_.reduce_buffer(group_numel[g], group_options[g]));
  for (auto& b : buckets_) {
    b.flat = group_buffers_[b.group].narrow(0, b.offset, b.grad_numel + static_cast<std::int64_t>(b.params.size()));
  }
}

std::vector<std::string> GradSync::bucket_params(std::size_t b) const {
  std::vector<std::string> names;
  for (auto i : buckets_.at(b).params) names.push_back(params_[i].name);
  return names;
}

void GradSync::begin() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : params_) {
    p.tensor.mutable_grad().reset();
    p.arrived = false;
  }
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.work.reset();
    b.arrivals = 0;
    b.ready_mark = kNoMark;
  }
  next_launch_ = 0;
  launched_in_backward_ = 0;
  armed_ = options_.overlap;
  in_phase_ = true;
  if (timeline_) {
    timeline_->clear();
    timeline_->mark();  // stamp 0: begin()
    backward_mark_ = 0;
  }
}

void GradSync::mark_backward_start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (timeline_ && in_phase_) backward_mark_ = timeline_->mark();
}

void GradSync::on_grad(std::size_t index, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mu_);
  if (timeline_ && in_phase_) {  // the bucket is ready for reduction when its last gradient arrives
    Bucket& b = buckets_[params_[index].bucket];
    if (++b.arrivals == b.params.size()) b.ready_mark = timeline_->mark();
  }
  if (!armed_) return;
  Param& p = params_[index];
  if (p.arrived) {
    throw DistError("GradSync: parameter " + p.name +
                    " received a second gradient in one phase (one backward per begin()/finish())");
  }
  if (passthrough_) {  // one rank: autograd's gradient is already the average
    p.arrived = true;
    return;
  }
  Bucket& b = buckets_[p.bucket];
  if (b.work) {
    throw DistError("GradSync: parameter " + p.name + " received a gradient after its bucket was reduced");
  }
  torch::NoGradGuard no_grad;
  pack(slot_view(b, p), grad);
  b.flat[b.grad_numel + static_cast<std::int64_t>(p.slot)].fill_(1);
  p.arrived = true;
  if (--b.pending == 0) launch_ready_buckets(/*in_backward=*/true);
}

// With mu_ held: launches, in index order, every consecutive bucket whose gradients are all present.
void GradSync::launch_ready_buckets(bool in_backward) {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    launch(buckets_[next_launch_]);
    ++next_launch_;
    if (in_backward) ++launched_in_backward_;
  }
}

// A gradient goes into its bucket already divided by the world size (in the same
// pass as the copy), so the bucket's reduction is a plain sum: no second pass
// over the bucket to average it. The flags are summed: > 0 means "some rank had one".
void GradSync::pack(torch::Tensor slot, const torch::Tensor& grad) const {
  if (inv_world_ == 1.0) {
    slot.copy_(grad);
  } else {
    at::mul_out(slot, grad, inv_world_tensor_);
  }
}

void GradSync::launch(Bucket& b) { b.work = comm_.all_reduce_async(b.flat, ReduceOp::kSum); }

// With mu_ held, in finish() without overlap: every bucket, as one collective per run of
// buckets adjacent in one group's buffer (the same runs on every rank). The sums are
// elementwise: the shared-memory reduce and 2-rank MPI give the bits of one collective per
// bucket; MPI at >= 3 ranks may pick another algorithm (summation order) for the longer message.
void GradSync::launch_rest_coalesced() {
  std::size_t i = next_launch_;
  while (i < buckets_.size()) {
    std::size_t j = i + 1;
    while (j < buckets_.size() && buckets_[j].group == buckets_[i].group &&
           buckets_[j].offset == buckets_[j - 1].offset + buckets_[j - 1].flat.numel())
      ++j;
    const std::int64_t n = buckets_[j - 1].offset + buckets_[j - 1].flat.numel() - buckets_[i].offset;
    WorkPtr work =
        comm_.all_reduce_async(group_buffers_[buckets_[i].group].narrow(0, buckets_[i].offset, n), ReduceOp::kSum);
    for (std::size_t k = i; k < j; ++k) buckets_[k].work = work;
    i = j;
  }
  next_launch_ = buckets_.size();
}

// Parameter p's place in its bucket, with p's own strides (p is dense, e.g. channels_last).
torch::Tensor GradSync::slot_view(Bucket& b, const Param& p) {
  if (!p.tensor.is_non_overlapping_and_dense())
    throw DistError("GradSync: parameter " + p.name + " is not dense (strides " + c10::str(p.tensor.strides()) + ")");
  return b.flat.narrow(0, p.offset, p.tensor.numel()).as_strided(p.tensor.sizes(), p.tensor.strides());
}

void GradSync::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
  in_phase_ = false;
  const std::size_t finish_mark = timeline_ ? timeline_->mark() : kNoMark;
  if (passthrough_) {  // gradients stay where autograd put them
    if (timeline_) resolve_timing(finish_mark, timeline_->mark());
    return;
  }
  torch::NoGradGuard no_grad;
  // Fill in what backward did not deliver: zeros and a 0 flag (overlap), or
  // every gradient at once (no overlap), then launch the rest in order.
  for (std::size_t bi = next_launch_; bi < buckets_.size(); ++bi) {
    Bucket& b = buckets_[bi];
    for (std::size_t slot = 0; slot < b.params.size(); ++slot) {
      Param& p = params_[b.params[slot]];
      if (p.arrived) continue;
      auto dst = b.flat.narrow(0, p.offset, p.tensor.numel());
      const torch::Tensor& g = p.tensor.grad();
      const bool has = !options_.overlap && g.defined();
      p.arrived = has;
      if (has) {
        pack(slot_view(b, p), g);
      } else {
        dst.zero_();
      }
      b.flat[b.grad_numel + static_cast<std::int64_t>(slot)].fill_(has ? 1 : 0);
    }
    b.pending = 0;
  }
  // Without overlap every rank launches every bucket here, so merging them is the same on all
  // ranks. With overlap, which buckets backward launched can differ by rank (a parameter with
  // no gradient on one rank), so the rest go one by one, as on the ranks that launched them.
  if (options_.overlap)
    launch_ready_buckets(/*in_backward=*/false);
  else
    launch_rest_coalesced();
  for (auto& b : buckets_) {
    b.work->wait();
    // The flags are read (a device→host copy, a sync on CUDA) only when some parameter of the
    // bucket had no gradient here: if all did, every rank's sum of flags is ≥ 1 for each.
    bool all_here = true;
    for (auto i : b.params) all_here = all_here && params_[i].arrived;
    torch::Tensor flags;
    if (!all_here)
      flags = b.flat.narrow(0, b.grad_numel, static_cast<std::int64_t>(b.params.size())).to(torch::kCPU, torch::kFloat);
    for (std::size_t slot = 0; slot < b.params.size(); ++slot) {
      Param& p = params_[b.params[slot]];
      torch::Tensor& grad = p.tensor.mutable_grad();
      if (!all_here && flags.data_ptr<float>()[slot] == 0) {  // no rank had a gradient: none anywhere
        grad.reset();
        continue;
      }
      // The gradient becomes a view of the bucket (no copy back); begin() drops
      // it before the bucket is refilled.
      grad = slot_view(b, p);
    }
  }
  if (timeline_) resolve_timing(finish_mark, timeline_->mark());
}

// With mu_ held, at the end of finish(): stamps → seconds.
void GradSync::resolve_timing(std::size_t finish_mark, std::size_t done_mark) {
  const auto t = timeline_->resolve();
  const double t0 = t[backward_mark_];
  timing_.backward_s = t[finish_mark] - t0;
  timing_.exposed_s = t[done_mark] - t[finish_mark];
  timing_.bucket_bytes.clear();
  timing_.bucket_ready_s.clear();
  for (const auto& b : buckets_) {
    timing_.bucket_bytes.push_back(b.bytes);
    timing_.bucket_ready_s.push_back(b.ready_mark == kNoMark ? std::nan("") : t[b.ready_mark] - t0);
  }
}

}  // namespace gantry::dist

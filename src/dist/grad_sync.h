// Fused, bucketed gradient synchronisation for one module (a GAN steps D and
// G in separate phases; each has its own GradSync and only the module being
// stepped is reduced).
//
//   sync.begin();        // clears the module's grads, arms the hooks
//   loss.backward();     // each bucket's all-reduce starts as soon as all of its grads exist
//   sync.finish();       // launches what is left, waits, writes averaged grads
//
// Parameters are packed in reverse registration order (the order backward
// produces them) into flat buckets of one dtype and device: a small first
// bucket, then buckets up to the cap. Buckets are launched strictly in index
// order, so every rank issues the same collectives in the same order.
// Buckets of one (device, dtype) are consecutive views of one buffer
// (Communicator::reduce_buffer). With overlap, backward launches each bucket
// as it fills and finish() the rest, one by one. Without overlap, finish()
// launches every bucket as one collective per run of adjacent buckets: on a
// wire with a per-message cost one big message is what a raw all-reduce of
// the same bytes gets.
// A parameter that got no gradient on a rank contributes zeros there; each
// bucket carries one "had a gradient" flag per parameter, so after finish()
// a parameter has a gradient on every rank iff it had one on some rank.
// Penalty gradients w.r.t. inputs (autograd::grad with create_graph) never
// fire the hooks: only leaf parameter gradients are reduced.
// Exactly one backward per begin()/finish(); a second gradient for a
// parameter in the same phase is an error. After finish() the gradients are
// views into the buckets (with each parameter's strides), valid until the next begin().
// One rank: nothing to average, so no bucket is filled or reduced; the
// gradients stay autograd's (the one-backward rule is still enforced).
//
// Timing (options.timing): where the phase's time went, on the device's own
// timeline (dist/timeline.h; on CUDA this syncs once per finish()):
//   sync.begin(); forward...; sync.mark_backward_start(); loss.backward(); sync.finish();
//   sync.timing()  // backward time, exposed communication, each bucket's ready time
// Per-bucket ready times are what a scaling model needs (docs/SCALING.md): a
// bucket's all-reduce can start no earlier, and what is left after backward is exposed.
#pragma once
#include <torch/nn/module.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"
#include "dist/timeline.h"

namespace gantry::dist {

struct GradSyncOptions {
  std::size_t bucket_cap_bytes = std::size_t{25} << 20;
  std::size_t first_bucket_cap_bytes = std::size_t{1} << 20;
  bool overlap = true;  // false: one pass of fused reduces after backward
  // Buckets and collectives even on one rank (normally a pass-through there):
  // how the bucket protocol over NCCL is tested on a machine with one GPU.
  bool buckets_on_one_rank = false;
  bool timing = false;  // fill timing() at every finish()
};

// One phase's timing (GradSyncOptions::timing). Seconds on the device's timeline.
struct GradSyncTiming {
  double backward_s = 0;  // mark_backward_start() (else begin()) → finish() called
  double exposed_s = 0;   // finish() called → gradients in place: communication (and, without
                          // overlap, packing) that backward did not hide
  // Per bucket, in launch order: its size, and backward start → its last gradient's
  // hook (NaN when some of its parameters got no gradient in backward).
  std::vector<std::int64_t> bucket_bytes;
  std::vector<double> bucket_ready_s;
};

class GradSync {
 public:
  GradSync(const torch::nn::Module& module, Communicator& comm, GradSyncOptions options = {});
  GradSync(std::vector<std::pair<std::string, torch::Tensor>> named_params, Communicator& comm,
           GradSyncOptions options = {});
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  void begin();
  void mark_backward_start();  // optional; a timing reference (no-op unless options.timing)
  void finish();
  // The last finish()'s timing; empty unless options.timing.
  const GradSyncTiming& timing() const { return timing_; }

  std::size_t num_buckets() const { return buckets_.size(); }
  // Names of the parameters in bucket b, in packing order.
  std::vector<std::string> bucket_params(std::size_t b) const;
  // Buckets whose all-reduce was launched from a backward hook (overlapped) in the last phase.
  std::size_t launched_in_backward() const { return launched_in_backward_; }

 private:
  struct Param {
    std::string name;
    torch::Tensor tensor;
    std::size_t bucket = 0;
    std::size_t slot = 0;     // position inside the bucket (index of its flag)
    std::int64_t offset = 0;  // element offset inside the bucket's flat buffer
    unsigned hook = 0;
    bool arrived = false;
  };
  struct Bucket {
    std::vector<std::size_t> params;
    std::int64_t grad_numel = 0;
    std::size_t group = 0;    // buckets of one (device, dtype) share one buffer, in index order
    std::int64_t offset = 0;  // where this bucket starts in its group's buffer
    torch::Tensor flat;       // [grads..., one flag per parameter]: a view of the group's buffer
    std::size_t pending = 0;
    WorkPtr work;
    std::int64_t bytes = 0;
    std::size_t arrivals = 0;  // timing: gradients seen in this backward
    std::size_t ready_mark = kNoMark;
  };

  static constexpr std::size_t kNoMark = static_cast<std::size_t>(-1);
  void build_buckets();
  void resolve_timing(std::size_t finish_mark, std::size_t done_mark);
  void on_grad(std::size_t index, const torch::Tensor& grad);
  void launch_ready_buckets(bool in_backward);
  void launch(Bucket& b);
  void launch_rest_coalesced();
  void pack(torch::Tensor slot, const torch::Tensor& grad) const;
  static torch::Tensor slot_view(Bucket& b, const Param& p);

  Communicator& comm_;
  GradSyncOptions options_;
  std::vector<Param> params_;
  std::vector<Bucket> buckets_;
  std::vector<torch::Tensor> group_buffers_;  // one reduce_buffer per (device, dtype)
  std::mutex mu_;
  bool passthrough_ = false;  // world size 1
  double inv_world_ = 1.0;
  torch::Tensor inv_world_tensor_;  // 0-d, CPU: multiplies gradients of any device and dtype
  bool armed_ = false;
  std::size_t next_launch_ = 0;
  std::size_t launched_in_backward_ = 0;
  bool in_phase_ = false;               // between begin() and finish()
  std::unique_ptr<Timeline> timeline_;  // options.timing
  std::size_t backward_mark_ = kNoMark;
  GradSyncTiming timing_;
};

}  // namespace gantry::dist

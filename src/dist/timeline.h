// Time stamps on the timeline a device's work runs on, for measuring where a
// step's time goes (GradSync's per-bucket backward times and exposed
// communication). On the CPU a stamp is the host clock at mark(); on a CUDA
// device it is an event recorded on the current stream, so it says when the
// GPU reached that point of the queued work, not when the host queued it.
// Resolving CUDA stamps waits for the last one (a device sync): timing is an
// opt-in measurement, not something every step pays for.
#pragma once
#include <c10/core/Device.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace gantry::dist {

class Timeline {
 public:
  explicit Timeline(c10::Device device);
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  void clear();
  // Records a stamp now; returns its index (0 for the first since clear()).
  std::size_t mark();
  // Seconds of every stamp since stamp 0, in index order.
  std::vector<double> resolve();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gantry::dist

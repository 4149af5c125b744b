#include "dist/timeline.h"

#include <chrono>
#include <string>

#ifdef GANTRY_HAVE_NCCL
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

#include "dist/error.h"

namespace gantry::dist {

namespace {
using Clock = std::chrono::steady_clock;

#ifdef GANTRY_HAVE_NCCL
void check_cuda(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throw DistError(std::string("Timeline: ") + what + ": " + cudaGetErrorString(rc));
}
#endif
}  // namespace

struct Timeline::Impl {
  explicit Impl(c10::Device d) : device(d) {}
  c10::Device device;
  std::vector<Clock::time_point> host;  // CPU stamps
#ifdef GANTRY_HAVE_NCCL
  std::vector<cudaEvent_t> events;  // a pool, reused after clear()
#endif
  std::size_t used = 0;
};

Timeline::Timeline(c10::Device device) : impl_(std::make_unique<Impl>(device)) {
#ifndef GANTRY_HAVE_NCCL
  if (device.is_cuda()) throw DistError("Timeline: this build has no CUDA support");
#endif
}

Timeline::~Timeline() {
#ifdef GANTRY_HAVE_NCCL
  for (auto e : impl_->events) cudaEventDestroy(e);
#endif
}

void Timeline::clear() {
  impl_->host.clear();
  impl_->used = 0;
}

std::size_t Timeline::mark() {
  auto& m = *impl_;
#ifdef GANTRY_HAVE_NCCL
  if (m.device.is_cuda()) {
    c10::cuda::CUDAGuard guard(m.device);
    if (m.used == m.events.size()) {
      cudaEvent_t e;
      check_cuda(cudaEventCreate(&e), "cudaEventCreate");
      m.events.push_back(e);
    }
    check_cuda(cudaEventRecord(m.events[m.used], c10::cuda::getCurrentCUDAStream(m.device.index()).stream()),
               "cudaEventRecord");
    return m.used++;
  }
#endif
  m.host.push_back(Clock::now());
  return m.used++;
}

std::vector<double> Timeline::resolve() {
  auto& m = *impl_;
  std::vector<double> out(m.used, 0.0);
  if (m.used == 0) return out;
#ifdef GANTRY_HAVE_NCCL
  if (m.device.is_cuda()) {
    check_cuda(cudaEventSynchronize(m.events[m.used - 1]), "cudaEventSynchronize");
    for (std::size_t i = 1; i < m.used; ++i) {
      float ms = 0;
      check_cuda(cudaEventElapsedTime(&ms, m.events[0], m.events[i]), "cudaEventElapsedTime");
      out[i] = ms * 1e-3;
    }
    return out;
  }
#endif
  for (std::size_t i = 1; i < m.used; ++i) out[i] = std::chrono::duration<double>(m.host[i] - m.host[0]).count();
  return out;
}

}  // namespace gantry::dist

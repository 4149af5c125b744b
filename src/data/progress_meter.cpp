#include "data/progress_meter.h"

#include <unistd.h>

namespace gantry::data {

ProgressMeter::ProgressMeter(std::string label, int64_t total, std::FILE* out)
    : label_(std::move(label)), total_(total), out_(out), tty_(::isatty(::fileno(out)) == 1) {
  start_ = last_ = std::chrono::steady_clock::now();
}

double ProgressMeter::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressMeter::update(int64_t done) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? 0.25 : 10.0)) return;
  last_ = now;
  print(done, false);
}

void ProgressMeter::finish(int64_t done) { print(done, true); }

void ProgressMeter::print(int64_t done, bool final) {
  const double t = elapsed_s();
  const double rate = t > 0 ? done / t : 0.0;
  const double pct = total_ > 0 ? 100.0 * done / total_ : 100.0;
  const auto eta = static_cast<int64_t>(rate > 0 ? (total_ - done) / rate : 0);
  if (final)
    std::fprintf(out_, "%s%s: %lld/%lld images in %.1f s (%.0f img/s)\n", tty_ ? "\r\033[K" : "", label_.c_str(),
                 (long long)done, (long long)total_, t, rate);
  else
    std::fprintf(out_, "%s%s: %lld/%lld (%.1f%%) %.0f img/s ETA %lld:%02lld%s", tty_ ? "\r\033[K" : "", label_.c_str(),
                 (long long)done, (long long)total_, pct, rate, (long long)(eta / 60), (long long)(eta % 60),
                 tty_ ? "" : "\n");
  std::fflush(out_);
}

}  // namespace gantry::data

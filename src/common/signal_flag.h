// The process-wide "a signal arrived" flag behind every graceful stop (pack /
// synth interrupts, train's checkpoint-and-exit): the handler only stores the
// signal number (async-signal-safe); work loops poll the flag and unwind.
#pragma once
#include <atomic>
#include <csignal>

namespace gantry {

// The signal received (0: none). Initialised before any handler is installed.
inline std::atomic<int>& signal_flag() {
  static std::atomic<int> flag{0};
  return flag;
}

namespace detail {
inline void store_signal(int sig) { signal_flag().store(sig); }
}  // namespace detail

// From now on `sig` sets the flag instead of its default action.
inline void flag_on_signal(int sig) {
  (void)signal_flag();  // construct the static outside the handler
  struct sigaction sa {};
  sa.sa_handler = &detail::store_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

}  // namespace gantry

// Every graceful stop goes through one process-wide flag: a handler that only
// stores the signal number (async-signal-safe), and work loops that poll it and
// unwind. Two users:
//   - long data commands (pack, synth): SIGINT/SIGTERM → the writer removes its
//     partial output and the command exits 128 + signal;
//   - `gantry train`: the configured stop signals (train.stop_signals) → the
//     ranks agree at the next step boundary, checkpoint and exit 75.
#pragma once
#include <atomic>
#include <csignal>
#include <sstream>
#include <stdexcept>
#include <string>

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

// pack / synth: SIGINT and SIGTERM set the flag.
inline void install_interrupt_handlers() {
  flag_on_signal(SIGINT);
  flag_on_signal(SIGTERM);
}
inline bool interrupt_requested() { return signal_flag().load() != 0; }
inline int interrupt_signal() { return signal_flag().load(); }

// gantry train: "TERM,INT,USR1,USR2" (any subset, "" for none) set the flag;
// std::invalid_argument for an unknown name. Returns the flag to poll.
inline const std::atomic<int>& install_stop_signals(const std::string& names) {
  std::stringstream in(names);
  for (std::string n; std::getline(in, n, ',');) {
    if (n.empty()) continue;
    int sig = 0;
    if (n == "TERM")
      sig = SIGTERM;
    else if (n == "INT")
      sig = SIGINT;
    else if (n == "USR1")
      sig = SIGUSR1;
    else if (n == "USR2")
      sig = SIGUSR2;
    else
      throw std::invalid_argument("config: train.stop_signals: unknown signal '" + n + "' (TERM, INT, USR1, USR2)");
    flag_on_signal(sig);
  }
  return signal_flag();
}

}  // namespace gantry

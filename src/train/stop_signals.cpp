#include "train/stop_signals.h"

#include <csignal>
#include <sstream>
#include <stdexcept>

#include "common/signal_flag.h"

namespace gantry::train {

const std::atomic<int>& install_stop_signals(const std::string& names) {
  std::stringstream in(names);
  for (std::string n; std::getline(in, n, ',');) {
    if (n.empty()) continue;
    int sig = 0;
    if (n == "TERM") sig = SIGTERM;
    else if (n == "INT") sig = SIGINT;
    else if (n == "USR1") sig = SIGUSR1;
    else if (n == "USR2") sig = SIGUSR2;
    else throw std::invalid_argument("config: train.stop_signals: unknown signal '" + n + "' (TERM, INT, USR1, USR2)");
    flag_on_signal(sig);
  }
  return signal_flag();
}

}  // namespace gantry::train

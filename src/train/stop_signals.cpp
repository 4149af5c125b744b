#include "train/stop_signals.h"

#include <csignal>
#include <sstream>
#include <stdexcept>

namespace gantry::train {

namespace {
std::atomic<int> g_stop{0};
extern "C" void on_stop_signal(int sig) { g_stop.store(sig); }
}  // namespace

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
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
  return g_stop;
}

}  // namespace gantry::train

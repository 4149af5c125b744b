#include "data/h5_crash_guard.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace gantry::data::h5 {

namespace {

constexpr int kGuardedSignals[] = {SIGSEGV, SIGBUS, SIGFPE};

std::atomic<bool> g_enabled{true};
// The armed CrashLines (nested guards chain through CrashGuard::previous_). Per thread: a
// fault is delivered to the thread that caused it, so a crash elsewhere while
// the loader's thread reads is not blamed on the file. Initial-exec TLS is a
// plain load from the thread pointer, safe in a signal handler.
__attribute__((tls_model("initial-exec"))) thread_local const char* t_armed_line = nullptr;
struct sigaction g_previous[sizeof(kGuardedSignals) / sizeof(int)];

const char* signal_name(int sig) { return sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "SIGFPE"; }

void on_crash(int sig, siginfo_t* info, void*) {
  const char* line = t_armed_line;
  if (line == nullptr) {
    // Not inside libhdf5: put the previous action back and return, so that the
    // faulting instruction runs again and crashes the way it would have; a
    // signal sent by kill() or raise() is sent again.
    for (size_t i = 0; i < std::size(kGuardedSignals); ++i)
      if (kGuardedSignals[i] == sig) sigaction(sig, &g_previous[i], nullptr);
    if (info->si_code <= 0) raise(sig);
    return;
  }
  // The guard wrote one whole line per guarded signal, NUL-separated in kGuardedSignals' order: one
  // write() each, so that lines of ranks that crash together do not interleave.
  for (size_t i = 0; i < std::size(kGuardedSignals) && kGuardedSignals[i] != sig; ++i) line += std::strlen(line) + 1;
  ssize_t ignored = write(STDERR_FILENO, line, std::strlen(line));
  (void)ignored;
  _exit(2);
}

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_crash;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kGuardedSignals); ++i) sigaction(kGuardedSignals[i], &sa, &g_previous[i]);
  });
}

}  // namespace

void set_crash_guard_enabled(bool enabled) { g_enabled.store(enabled); }

CrashLines::CrashLines(const std::string& path) {
  for (const int sig : kGuardedSignals) {
    lines_ += "gantry: " + path + ": libhdf5 crashed reading it (" + signal_name(sig) +
              "): a damaged HDF5 file (h5dump shows where; pack it again)\n";
    lines_ += '\0';
  }
}

CrashGuard::CrashGuard(const CrashLines& lines) : previous_(t_armed_line) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  install_once();
  t_armed_line = lines.data();
}

CrashGuard::~CrashGuard() { t_armed_line = previous_; }

}  // namespace gantry::data::h5

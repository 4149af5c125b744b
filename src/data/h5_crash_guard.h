// libhdf5 1.10.8 can crash on a damaged file: it trusts size fields, its malloc
// fails, and it copies into the null pointer (tests/fixtures/hdf5-crash-local-heap:
// a 2 KB file segfaults inside H5Lexists). gantry cannot fix libhdf5, but a user
// must see one line naming the file, not a segfault. While a guard is alive, a
// SIGSEGV, SIGBUS or SIGFPE on the thread that holds it prints
//   gantry: <file>: libhdf5 crashed reading it (SIGSEGV): a damaged HDF5 file ...
// and exits 2 (a training job's other ranks then see a dead rank and stop, as
// for any failed rank). Outside a guard the signals keep their previous action,
// so a crash in gantry's own code is still a crash with its usual report.
#pragma once
#include <string>

namespace gantry::data::h5 {

// The lines a guard prints, formatted once per file (a signal handler may only
// write() what is already there).
class CrashLines {
 public:
  explicit CrashLines(const std::string& path);
  const char* data() const { return lines_.data(); }

 private:
  std::string lines_;
};

// Arms the calling thread for its lifetime; nests. Costs two TLS stores.
class CrashGuard {
 public:
  explicit CrashGuard(const CrashLines& lines);
  ~CrashGuard();
  CrashGuard(const CrashGuard&) = delete;
  CrashGuard& operator=(const CrashGuard&) = delete;

 private:
  const char* previous_;
};

// Off: guards do nothing, so that a crash reaches the previous handler. For the
// fuzzer, whose sanitizer report of a libhdf5 crash is what it is after.
void set_crash_guard_enabled(bool enabled);

}  // namespace gantry::data::h5

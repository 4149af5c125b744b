// A progress line for long data commands: count, percent, rate and ETA. On a
// terminal it redraws one line; otherwise (logs, CI) it prints a line every
// few seconds.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gantry::data {

class ProgressMeter {
 public:
  ProgressMeter(std::string label, int64_t total, std::FILE* out = stderr);
  void update(int64_t done);  // cheap; prints only when due
  void finish(int64_t done);  // final line with the average rate
  double elapsed_s() const;

 private:
  void print(int64_t done, bool final);
  std::string label_;
  int64_t total_;
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace gantry::data

// How an exception reaches the user: one line, and an exit code that says
// whose fault it was. Shared by the CLI's rank agreement, the trainer's
// step-boundary agreement and the readers that wrap LibTorch errors.
#pragma once
#include <c10/util/Exception.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace gantry {

// An exception's message as one line: a LibTorch error without its C++
// backtrace, and only the first non-empty line of a multi-line message
// (TorchScript's errors start with a line break).
inline std::string one_line(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  std::string msg = torch_error ? torch_error->what_without_backtrace() : e.what();
  const auto start = msg.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return {};
  msg.erase(0, start);
  if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return msg;
}

// gantry's exit code for a failure: std::invalid_argument is bad input (2),
// anything else failed while running (1).
inline int exit_code_for(const std::exception& e) { return dynamic_cast<const std::invalid_argument*>(&e) ? 2 : 1; }

}  // namespace gantry

// Bad data input (a missing, corrupt or mis-shaped file, an undecodable image):
// one line naming the file and the problem. It is bad input, so the CLI maps
// it to exit code 2 like every std::invalid_argument.
#pragma once
#include <stdexcept>
#include <string>

namespace gantry::data {

class DataError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// An interrupted pack (SIGINT/SIGTERM): the partial output has been removed.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gantry::data

// Errors raised by the distributed layer. A DistError means the job as a whole
// cannot go on; callers let it reach main(), which prints one line and aborts
// every rank (World::abort), so that no rank is left waiting in a collective.
#pragma once
#include <stdexcept>
#include <string>

namespace gantry::dist {

class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws DistError("<what>: <MPI error string>") when rc != MPI_SUCCESS.
void check_mpi(int rc, const char* what);

}  // namespace gantry::dist

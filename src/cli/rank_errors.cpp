#include "cli/rank_errors.h"

#include "dist/agreement.h"

#include <c10/util/Exception.h>

#include <climits>
#include <cstdio>
#include <stdexcept>

namespace gantry::cli {

namespace {

// Every rank passes its own failure ("" and 0 if none): the lowest failing
// rank's message is printed once by rank 0, the world is finalized, and the
// worst exit code of all ranks is returned (0 if no rank failed).
int agree_on_failure(dist::World& world, const std::string& mine, int code) {
  int worst = 0;
  MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  const std::string err = dist::agreed_error(world, mine);
  if (err.empty()) return 0;
  if (world.rank() == 0) std::fprintf(stderr, "gantry: %s\n", err.c_str());
  world.finalize();
  return worst;
}

}  // namespace

int validate_on_all_ranks(dist::World& world, const std::function<void()>& validate) {
  std::string err;
  try {
    validate();
  } catch (const std::invalid_argument& e) {
    err = e.what();
  }
  return agree_on_failure(world, err, err.empty() ? 0 : 2);
}

std::string one_line(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  std::string msg = torch_error ? torch_error->what_without_backtrace() : e.what();
  const auto nl = msg.find('\n');
  if (nl != std::string::npos) msg.resize(nl);
  return msg;
}

int make_on_all_ranks(dist::World& world, const std::string& doing, const std::function<void()>& make) {
  std::string err;
  int code = 0;
  try {
    make();
  } catch (const std::exception& e) {
    // std::invalid_argument is bad input (exit 2); anything else failed (1).
    err = "while " + doing + ": " + one_line(e);
    code = dynamic_cast<const std::invalid_argument*>(&e) ? 2 : 1;
  }
  return agree_on_failure(world, err, code);
}

}  // namespace gantry::cli

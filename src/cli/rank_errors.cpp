#include "cli/rank_errors.h"

#include "dist/agreement.h"

#include "common/error_text.h"

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

int run_on_world(const std::function<int(dist::World&)>& body) {
  int argc = 0;
  char** argv = nullptr;
  auto& world = dist::World::init(&argc, &argv);
  const int rc = body(world);
  world.finalize();
  return rc;
}

int validate_on_all_ranks(dist::World& world, const std::function<void()>& validate) {
  std::string err;
  try {
    validate();
  } catch (const std::invalid_argument& e) {
    err = e.what();
  }
  return agree_on_failure(world, err, err.empty() ? 0 : 2);
}

int make_on_all_ranks(dist::World& world, const std::string& doing, const std::function<void()>& make) {
  std::string err;
  int code = 0;
  try {
    make();
  } catch (const std::exception& e) {
    err = "while " + doing + ": " + one_line(e);
    code = exit_code_for(e);
  }
  return agree_on_failure(world, err, code);
}

}  // namespace gantry::cli

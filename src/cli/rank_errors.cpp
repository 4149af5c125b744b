#include "cli/rank_errors.h"

#include <climits>
#include <cstdio>
#include <stdexcept>

namespace gantry::cli {

std::string agreed_error(dist::World& world, const std::string& mine) {
  int code = mine.empty() ? INT_MAX : world.rank(), lowest = INT_MAX;
  MPI_Allreduce(&code, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (lowest == INT_MAX) return "";
  std::string msg = world.rank() == lowest ? mine : std::string();
  int len = static_cast<int>(msg.size());
  MPI_Bcast(&len, 1, MPI_INT, lowest, MPI_COMM_WORLD);
  msg.resize(len);
  MPI_Bcast(msg.data(), len, MPI_CHAR, lowest, MPI_COMM_WORLD);
  return lowest == 0 ? msg : "rank " + std::to_string(lowest) + ": " + msg;
}

int validate_on_all_ranks(dist::World& world, const std::function<void()>& validate) {
  std::string err;
  try {
    validate();
  } catch (const std::invalid_argument& e) {
    err = e.what();
  }
  err = agreed_error(world, err);
  if (err.empty()) return 0;
  if (world.rank() == 0) std::fprintf(stderr, "gantry: %s\n", err.c_str());
  world.finalize();
  return 2;
}

}  // namespace gantry::cli

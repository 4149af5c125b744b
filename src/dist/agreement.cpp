#include "dist/agreement.h"

#include <mpi.h>

#include <climits>

namespace gantry::dist {

std::string agreed_error(World& world, const std::string& mine) {
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

}  // namespace gantry::dist

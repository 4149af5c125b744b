// Ranks agreeing on a failure without MPI_Abort: every rank passes its own
// error ("" if none) and all learn the lowest failing rank's message.
#pragma once
#include <string>

#include "dist/world.h"

namespace gantry::dist {

// The error of the lowest failing rank, on every rank ("" if none failed),
// prefixed "rank R: " unless R is 0. A collective over MPI_COMM_WORLD.
std::string agreed_error(World& world, const std::string& mine);

}  // namespace gantry::dist

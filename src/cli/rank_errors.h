// Bad input found after MPI is up (each rank validates the same things):
// the ranks agree on the lowest failing rank's message, rank 0 prints it as
// one line, and every rank exits 2 together instead of aborting the job.
#pragma once
#include <exception>
#include <functional>
#include <string>

#include "dist/world.h"

namespace gantry::cli {

// Runs `validate` on every rank; std::invalid_argument from it on any rank →
// rank 0 prints "gantry: <message>", the world is finalized, and 2 is returned.
// Otherwise returns 0.
int validate_on_all_ranks(dist::World& world, const std::function<void()>& validate);

// Runs `make` on every rank, where no collective is under way (building models,
// opening data): any exception on any rank → rank 0 prints "gantry: [rank R: ]
// while <doing>: <message>" for the lowest failing rank, as one line (a
// LibTorch error without its backtrace), the world is finalized, and 2
// (std::invalid_argument on some rank: bad input) or 1 is returned.
int make_on_all_ranks(dist::World& world, const std::string& doing, const std::function<void()>& make);

}  // namespace gantry::cli

// Bad input found after MPI is up (each rank validates the same things):
// the ranks agree on the lowest failing rank's message, rank 0 prints it as
// one line, and every rank exits 2 together instead of aborting the job.
#pragma once
#include <functional>
#include <string>

#include "dist/world.h"

namespace gantry::cli {

// Starts MPI and this process's rank (no argv: CLI11 has parsed the command
// line), runs `body`, and finalizes the world on every normal return (an early
// error return included). An exception from `body` reaches main, which aborts
// the job with one line.
int run_on_world(const std::function<int(dist::World&)>& body);

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

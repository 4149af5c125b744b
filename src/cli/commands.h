// Subcommands of the gantry executable. Each add_*_command registers its
// options on `app` and, when it is the chosen subcommand, stores what to run
// in `action` (which returns the process exit code).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>

namespace gantry::cli {

using Action = std::function<int()>;

CLI::App* add_version_command(CLI::App& app, Action& action);
CLI::App* add_smoke_command(CLI::App& app, Action& action);

}  // namespace gantry::cli

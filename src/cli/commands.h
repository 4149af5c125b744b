// Subcommands of the gantry executable. Each add_*_command registers its
// options on `app` and, when it is the chosen subcommand, stores what to run
// in `action` (which returns the process exit code).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace gantry::cli {

using Action = std::function<int()>;

CLI::App* add_version_command(CLI::App& app, Action& action);
CLI::App* add_smoke_command(CLI::App& app, Action& action);
CLI::App* add_pack_command(CLI::App& app, Action& action);
CLI::App* add_synth_command(CLI::App& app, Action& action);
CLI::App* add_inspect_command(CLI::App& app, Action& action);
CLI::App* add_train_command(CLI::App& app, Action& action);
CLI::App* add_config_command(CLI::App& app, Action& action);
CLI::App* add_diff_command(CLI::App& app, Action& action);
CLI::App* add_sample_command(CLI::App& app, Action& action);
CLI::App* add_export_command(CLI::App& app, Action& action);
CLI::App* add_eval_command(CLI::App& app, Action& action);

// The command line this process was started with (recorded in the files it writes).
const std::string& invocation();

}  // namespace gantry::cli

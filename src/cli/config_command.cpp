// gantry config --config FILE.toml [--set key=value ...] [--world-size N]
// Prints the config `gantry train` would run with (defaults, then the file,
// then each --set; validated for N ranks) as TOML, every key, and exits:
// the same text train writes to its run dir's config.toml. Tools compare it
// with a run's recorded config before resuming or reusing the run
// (bench/results.py), and people read what a --set list resolves to. No MPI,
// no model, no data is touched beyond validation's checks.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "train/train_config.h"

namespace gantry::cli {

CLI::App* add_config_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand(
      "config",
      "Print the resolved, validated config that train would run with (defaults <- --config <- --set) as TOML");
  struct Opts {
    std::string config;
    std::vector<std::string> overrides;
    int world_size = 1;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--config", o->config, "experiment config (TOML); defaults apply to missing keys");
  sub->add_option("--set", o->overrides, "override a config key: section.key=value (repeatable)");
  sub->add_option("--world-size", o->world_size, "validate for this many ranks (per-rank batch checks)")
      ->check(CLI::Range(1, 1 << 20));
  sub->callback([&action, o] {
    action = [o] {
      const std::string text = train::to_toml(train::load_config(o->config, o->overrides, o->world_size));
      std::fwrite(text.data(), 1, text.size(), stdout);
      return std::fflush(stdout) == 0 ? 0 : 1;
    };
  });
  return sub;
}

}  // namespace gantry::cli

// gantry train --config FILE.toml --run-dir DIR [--set key=value ...]
// The config is loaded and validated on every rank; the ranks agree on the
// first error, which rank 0 prints as one line (exit 2) before any training.
#include <climits>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "dist/world.h"
#include "train/gan_trainer.h"
#include "train/stop_signals.h"
#include "train/train_config.h"

namespace gantry::cli {

namespace {
// The error of the lowest failing rank, on every rank ("" if none failed).
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
}  // namespace

CLI::App* add_train_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("train", "Train a GAN data-parallel (resumes from the run dir's newest valid checkpoint)");
  struct Opts {
    std::string config, run_dir;
    std::vector<std::string> overrides;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--config", o->config, "experiment config (TOML); defaults apply to missing keys");
  sub->add_option("--run-dir", o->run_dir, "where checkpoints, metrics and samples go")->required();
  sub->add_option("--set", o->overrides, "override a config key: section.key=value (repeatable)");
  sub->add_flag("--quiet", o->quiet, "no progress lines");
  sub->callback([&action, o] {
    action = [o] {
      int argc = 0;
      char** argv = nullptr;
      auto& world = dist::World::init(&argc, &argv);
      train::TrainConfig config;
      std::string err;
      const std::atomic<int>* stop = nullptr;
      try {
        config = train::load_config(o->config, o->overrides, world.size());
        stop = &train::install_stop_signals(config.train.stop_signals);
      } catch (const std::invalid_argument& e) {
        err = e.what();
      }
      err = agreed_error(world, err);
      if (!err.empty()) {
        if (world.rank() == 0) std::fprintf(stderr, "gantry: %s\n", err.c_str());
        world.finalize();
        return 2;
      }
      train::TrainOptions opts;
      opts.run_dir = o->run_dir;
      opts.quiet = o->quiet;
      if (const char* nan = std::getenv("GANTRY_INJECT_NAN_STEP")) {  // "S" or "S-E"
        const std::string v = nan;
        opts.inject_nan_first = std::atoll(v.c_str());
        const auto dash = v.find('-');
        opts.inject_nan_last = dash == std::string::npos ? opts.inject_nan_first : std::atoll(v.c_str() + dash + 1);
      }
      const int rc = train::run_training(world, std::move(config), opts, *stop);
      world.finalize();
      return rc;
    };
  });
  return sub;
}

}  // namespace gantry::cli

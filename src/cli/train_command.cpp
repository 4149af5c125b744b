// gantry train --config FILE.toml --run-dir DIR [--set key=value ...]
// Before any training, in four steps the ranks agree on (the first error is
// printed by rank 0 as one line, exit 2 for bad input, 1 otherwise): the config
// is loaded and validated on every rank; every rank resolved the same config
// and data (an MPMD launch with different files would otherwise fail inside a
// collective); rank 0's run dir is usable and its checkpoints are of this
// model; every rank made its models, optimizers, resumed state and data source
// (a model too large for memory fails here, not in an MPI_Abort).
#include <cstdio>
#include <limits>
#include <memory>

#include "cli/commands.h"
#include "cli/rank_errors.h"
#include "dist/world.h"
#include "train/gan_trainer.h"
#include "train/run_dir.h"
#include "common/signals.h"
#include "train/train_config.h"

namespace gantry::cli {

CLI::App* add_train_command(CLI::App& app, Action& action) {
  auto* sub =
      app.add_subcommand("train", "Train a GAN data-parallel (resumes from the run dir's newest valid checkpoint)");
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
      return run_on_world([&](dist::World& world) {
        train::TrainConfig config;
        const std::atomic<int>* stop = nullptr;
        if (const int rc = validate_on_all_ranks(world, [&] {
              config = train::load_config(o->config, o->overrides, world.size());
              stop = &install_stop_signals(config.train.stop_signals);
            }))
          return rc;
        if (const int rc = validate_on_all_ranks(world, [&] { train::check_same_config_on_all_ranks(world, config); }))
          return rc;
        if (const int rc = validate_on_all_ranks(world, [&] {
              if (world.rank() == 0) train::prepare_run_dir(o->run_dir);
            }))
          return rc;
        train::TrainOptions opts;
        opts.run_dir = o->run_dir;
        opts.quiet = o->quiet;
        if (const char* nan = std::getenv("GANTRY_INJECT_NAN_STEP")) {  // "S" or "S-E": D's loss NaN there on rank 0
          const std::string v = nan;
          const int64_t first = std::atoll(v.c_str());
          const auto dash = v.find('-');
          const int64_t last = dash == std::string::npos ? first : std::atoll(v.c_str() + dash + 1);
          opts.d_loss_hook = [first, last](int64_t step, int rank, const torch::Tensor& loss) {
            return step >= first && step <= last && rank == 0 ? loss * std::numeric_limits<double>::quiet_NaN() : loss;
          };
        }
        // Models, optimizers, the resumed state and the data source, made on every rank before
        // any collective: a model too large for memory or an unreadable data file is one line.
        std::unique_ptr<train::TrainingRun> training;
        if (const int rc = make_on_all_ranks(world, "making the models, optimizers and data source", [&] {
              training = train::prepare_training(world, std::move(config), opts);
            }))
          return rc;
        const int rc = training->run(*stop);
        training.reset();  // the loader's threads end before MPI does
        return rc;
      });
    };
  });
  return sub;
}

}  // namespace gantry::cli

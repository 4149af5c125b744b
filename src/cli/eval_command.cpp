// gantry eval --run-dir DIR [--checkpoint FILE] --metrics is,fid,modes,diversity
//             [--count N] [--ema] [--feature-net NET.pt] [--reference X.h5] ...
//   Generates across ranks, prints one JSON object, appends it to the run
//   dir's metrics.jsonl (rank 0).
// gantry eval train-classifier --data X.h5 [--test Y.h5] --out clf.pt [--name FMNIST]
//   The offline feature network (eval/classifier.h); one process.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/rank_errors.h"
#include "data/h5_image_file.h"
#include "dist/world.h"
#include "eval/classifier.h"
#include "train/checkpoint_nets.h"
#include "train/evaluation.h"

namespace gantry::cli {

namespace fs = std::filesystem;

namespace {

void add_train_classifier(CLI::App& eval, Action& action) {
  auto* sub = eval.add_subcommand("train-classifier",
                                  "Train the offline feature network (a small CNN) on a labelled packed dataset");
  struct Opts {
    std::string data, test, out;
    eval::ClassifierOptions c;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--data", o->data, "packed training data with labels (gantry pack)")->required();
  sub->add_option("--test", o->test, "packed held-out data: its accuracy is reported and stored in the module");
  sub->add_option("--out", o->out, "output TorchScript module (.pt)")->required();
  sub->add_option("--name", o->c.feature_space, "feature-space label of its metrics (e.g. FMNIST -> FID-FMNIST)")
      ->required();
  sub->add_option("--epochs", o->c.epochs, "training epochs")->check(CLI::Range(1, 1000));
  sub->add_option("--batch", o->c.batch, "batch size")->check(CLI::Range(1, 65536));
  sub->add_option("--lr", o->c.lr, "Adam learning rate")->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->c.seed, "initialisation and shuffling seed");
  sub->callback([&action, o] {
    action = [o] {
      // Bad files are found before MPI is up: one line, exit 2.
      for (const auto& path : {o->data, o->test})
        if (!path.empty() && !data::inspect_dataset(path).has_labels)
          throw std::invalid_argument("eval train-classifier: " + path + " has no labels");
      return run_on_world([&](dist::World& world) {
        if (const int rc = validate_on_all_ranks(world, [&] {
              if (world.size() != 1)
                throw std::invalid_argument("eval train-classifier runs as one process, not under mpirun -np > 1");
            }))
          return rc;
        const auto report = eval::train_classifier(o->data, o->test, o->out, o->c, [](int64_t epoch, double acc) {
          std::fprintf(stderr, "epoch %lld: train accuracy %.4f\n", static_cast<long long>(epoch), acc);
        });
        nlohmann::json j = {{"out", o->out},
                            {"feature_space", o->c.feature_space},
                            {"train_images", report.train_images},
                            {"classes", report.classes},
                            {"train_accuracy", report.train_accuracy},
                            {"epochs", o->c.epochs},
                            {"seconds", report.seconds}};
        if (report.test_accuracy >= 0) {
          j["test"] = o->test;
          j["test_images"] = report.test_images;
          j["test_accuracy"] = report.test_accuracy;
        }
        std::printf("%s\n", j.dump().c_str());
        return 0;
      });
    };
  });
}

}  // namespace

CLI::App* add_eval_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("eval", "Measure a checkpoint's generator (IS, FID, mode coverage, diversity)");
  struct Opts {
    std::string run_dir, checkpoint, metrics, feature_net, reference, stats_cache;
    train::EvalRequest req;
    bool no_append = false;
  };
  auto o = std::make_shared<Opts>();
  o->req.ema = false;  // G unless --ema
  sub->add_option("--run-dir", o->run_dir,
                  "run dir (its newest valid checkpoint; the result is appended to its metrics.jsonl)");
  sub->add_option("--checkpoint", o->checkpoint, "a checkpoint file (default: the run dir's newest)");
  sub->add_option("--metrics", o->metrics, "comma list of is, fid, modes, diversity");
  sub->add_option("--count", o->req.count, "generated samples (default 10000; 2500 for 2-D models)")
      ->check(CLI::Range(2, 10000000));
  sub->add_flag("--ema", o->req.ema, "evaluate G_ema instead of G");
  sub->add_option("--bn-standing", o->req.bn_standing,
                  "recompute G's batch-norm statistics from this many training-mode batches first "
                  "(standing statistics; default 0: the running statistics)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("--feature-net", o->feature_net,
                  "TorchScript feature network (Inception or gantry eval train-classifier's)");
  sub->add_option("--reference", o->reference, "FID: packed real data (default: the run's data.path)");
  sub->add_option("--reference-count", o->req.reference_count, "FID: real images used (default all)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--stats-cache", o->stats_cache, "FID: directory of cached reference statistics");
  sub->add_option("--seed", o->req.seed, "noise seed");
  sub->add_option("--splits", o->req.splits, "IS splits")->check(CLI::Range(1, 1000));
  sub->add_option("--batch", o->req.batch, "samples per generation chunk")->check(CLI::Range(1, 65536));
  sub->add_flag("--no-append", o->no_append, "do not append the result to the run dir's metrics.jsonl");
  add_train_classifier(*sub, action);
  sub->callback([&action, o, sub] {
    if (sub->got_subcommand("train-classifier")) return;
    action = [o] {
      if (o->run_dir.empty() && o->checkpoint.empty())
        throw std::invalid_argument("eval: give --run-dir or --checkpoint");
      if (o->metrics.empty()) throw std::invalid_argument("eval: --metrics is required (is, fid, modes, diversity)");
      o->req.metrics = eval::parse_metric_set(o->metrics);  // before MPI: one line from a single process
      o->req.reference = o->reference;
      o->req.stats_cache = o->stats_cache;
      return run_on_world([&](dist::World& world) {
        const auto device = world.device();
        fs::path file;
        train::CheckpointNets nets;
        std::unique_ptr<eval::FeatureNet> net;
        if (const int rc = validate_on_all_ranks(world, [&] {
              file = o->checkpoint.empty() ? train::newest_checkpoint(o->run_dir) : fs::path(o->checkpoint);
              nets = train::load_nets(file);
              train::check_request(o->req, nets.config, !o->feature_net.empty());
              if (!o->feature_net.empty()) net = std::make_unique<eval::FeatureNet>(o->feature_net, device);
              train::check_request(o->req, nets.config, net != nullptr, net.get());
            }))
          return rc;
        nets.g->to(device);
        nets.g_ema->to(device);
        nets.d->to(device);
        auto& g = o->req.ema ? *nets.g_ema : *nets.g;
        auto result = train::evaluate(g, nets.d.get(), nets.config, nets.step, world.comm(), device, o->req, net.get());
        if (world.rank() == 0) {
          result["checkpoint"] = file.string();
          std::printf("%s\n", result.dump().c_str());
          if (!o->run_dir.empty() && !o->no_append) {
            std::ofstream out(fs::path(o->run_dir) / "metrics.jsonl", std::ios::app);
            out << result.dump() << "\n";
            if (!out) throw std::runtime_error("cannot append to " + (fs::path(o->run_dir) / "metrics.jsonl").string());
          }
        }
        return 0;
      });
    };
  });
  return sub;
}

}  // namespace gantry::cli

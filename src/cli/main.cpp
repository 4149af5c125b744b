// gantry <subcommand>: parse, validate, dispatch. Errors end as one line on
// stderr and a non-zero exit: 2 for bad input, 1 for failures, and every
// rank is aborted when one fails after MPI is up.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/rank_errors.h"
#include "common/error_text.h"
#include "common/host_allocator.h"
#include "dist/world.h"

namespace gantry::cli {
namespace {
std::string g_invocation;
}
const std::string& invocation() { return g_invocation; }
}  // namespace gantry::cli

int main(int argc, char** argv) {
  gantry::tune_host_allocator();  // before the first allocation worth keeping
  for (int i = 0; i < argc; ++i) gantry::cli::g_invocation += (i ? " " : "") + std::string(argv[i]);
  CLI::App app{"gantry: data-parallel GAN training on many GPUs (MPI + NCCL)", "gantry"};
  app.require_subcommand(1);
  gantry::cli::Action action;
  gantry::cli::add_version_command(app, action);
  gantry::cli::add_smoke_command(app, action);
  gantry::cli::add_pack_command(app, action);
  gantry::cli::add_synth_command(app, action);
  gantry::cli::add_inspect_command(app, action);
  gantry::cli::add_train_command(app, action);
  gantry::cli::add_config_command(app, action);
  gantry::cli::add_diff_command(app, action);
  gantry::cli::add_sample_command(app, action);
  gantry::cli::add_export_command(app, action);
  gantry::cli::add_eval_command(app, action);
  const auto subs = app.get_subcommands([](CLI::App*) { return true; });
  const bool known =
      argc > 1 && std::any_of(subs.begin(), subs.end(), [&](CLI::App* s) { return s->get_name() == argv[1]; });
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "gantry: unknown subcommand '%s' (see gantry --help)\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "gantry: %s (see gantry --help)\n", e.what());
    return 2;
  }
  try {
    return action();
  } catch (const std::invalid_argument& e) {  // bad input: exit 2
    if (gantry::dist::World::initialized()) gantry::dist::World::abort(2, e.what());
    std::fprintf(stderr, "gantry: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // a LibTorch error: its message, not its C++ backtrace
    const std::string msg = gantry::one_line(e);
    if (gantry::dist::World::initialized()) gantry::dist::World::abort(1, msg);
    std::fprintf(stderr, "gantry: %s\n", msg.c_str());
    return 1;
  }
}

// gantry synth: deterministic synthetic images (e.g. CelebA-HQ's 3x256x256) for benchmarks.
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/data_commands_common.h"

namespace gantry::cli {

namespace {
// "3,256,256" → {3, 256, 256}; throws std::invalid_argument.
std::vector<int64_t> parse_shape(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t used = 0;
    int64_t x = 0;
    try {
      x = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty() || x <= 0)
      throw std::invalid_argument("--shape must be C,H,W with positive integers, not '" + s + "'");
    v.push_back(x);
  }
  if (v.size() != 3) throw std::invalid_argument("--shape must be C,H,W (e.g. 3,256,256), not '" + s + "'");
  return v;
}
}  // namespace

CLI::App* add_synth_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("synth", "Write deterministic synthetic images in gantry's HDF5 format");
  auto o = std::make_shared<data::SynthOptions>();
  auto shape = std::make_shared<std::string>("3,256,256");
  sub->add_option("--shape", *shape, "C,H,W (CelebA-HQ: 3,256,256 or 3,128,128)");
  sub->add_option("--count", o->count, "number of images")->required()->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->seed, "seed: the same seed gives the same images");
  sub->add_option("--threads", o->threads, "generator threads (0: all cores)")->check(CLI::NonNegativeNumber);
  add_output_options(sub, o->output);
  sub->callback([&action, o, shape] {
    action = [o, shape] {
      const auto s = parse_shape(*shape);
      o->channels = s[0];
      o->height = s[1];
      o->width = s[2];
      o->output.command = invocation();
      return run_packer([o] { return data::synth_dataset(*o); });
    };
  });
  return sub;
}

}  // namespace gantry::cli

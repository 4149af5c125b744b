#include "cli/data_commands_common.h"

#include <cstdio>

#include "cli/commands.h"
#include "data/data_error.h"
#include "common/signals.h"

namespace gantry::cli {

void add_output_options(CLI::App* sub, data::PackOutput& out) {
  sub->add_option("--out", out.out, "output .h5 file (written to a temporary file, renamed when complete)")->required();
  sub->add_option("--chunk-images", out.images_per_chunk, "images per HDF5 chunk (1: one random read = one chunk)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--gzip", out.gzip_level, "deflate level 0..9 (0: uncompressed)")->check(CLI::Range(0, 9));
  sub->add_flag("--force", out.force, "replace an existing output file");
  sub->add_flag("--quiet{false}", out.progress, "no progress line");
}

nlohmann::json summary_json(const data::PackResult& r) {
  const auto& i = r.info;
  return {{"out", i.path},
          {"count", i.count},
          {"shape", {i.channels, i.height, i.width}},
          {"labels", i.has_labels},
          {"images_per_chunk", i.images_per_chunk},
          {"gzip", i.gzip_level < 0 ? 0 : i.gzip_level},
          {"bytes", std::filesystem::file_size(i.path)},
          {"seconds", r.seconds},
          {"images_per_s", r.seconds > 0 ? i.count / r.seconds : 0.0},
          {"skipped", r.skipped.size()}};
}

int run_packer(const std::function<data::PackResult()>& pack) {
  install_interrupt_handlers();
  try {
    const auto result = pack();
    std::printf("%s\n", summary_json(result).dump().c_str());
    return 0;
  } catch (const data::Interrupted& e) {
    std::fprintf(stderr, "\ngantry: %s\n", e.what());
    return 128 + interrupt_signal();
  }
}

}  // namespace gantry::cli

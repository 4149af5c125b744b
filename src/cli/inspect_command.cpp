// gantry inspect FILE: validate a dataset and print what it holds (JSON); with
// --verify also read every image, which finds damage past the header.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/h5_image_file.h"
#include "common/rng.h"

namespace gantry::cli {

CLI::App* add_inspect_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("inspect", "Validate a gantry HDF5 dataset and print its shape and attributes");
  struct Opts {
    std::string path;
    bool verify = false;
    bool locking = true;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("file", o->path, "dataset .h5")->required();
  sub->add_flag("--verify", o->verify, "read every image (reports truncation or corruption anywhere in the file)");
  sub->add_flag("--no-file-locking{false}", o->locking, "disable HDF5 file locking (NFS, Lustre)");
  sub->callback([&action, o] {
    action = [o] {
      data::OpenOptions open;
      open.file_locking = o->locking;
      data::H5ImageFile file(o->path, open);
      const auto& i = file.info();
      nlohmann::json j = {{"file", i.path},
                          {"count", i.count},
                          {"shape", {i.channels, i.height, i.width}},
                          {"labels", i.has_labels},
                          {"format_version", i.format_version},
                          {"source", i.source},
                          {"creation_command", i.creation_command},
                          {"images_per_chunk", i.images_per_chunk},
                          {"gzip", i.gzip_level < 0 ? 0 : i.gzip_level}};
      if (o->verify) {
        // Reads in blocks and folds the bytes into a position-dependent checksum.
        const int64_t block = std::max<int64_t>(1, (int64_t{64} << 20) / i.image_bytes());
        std::vector<uint8_t> buf(static_cast<size_t>(block * i.image_bytes()));
        uint64_t sum = 0;
        for (int64_t s = 0; s < i.count; s += block) {
          const int64_t n = std::min(block, i.count - s);
          file.read_range(s, n, buf.data());
          for (size_t k = 0; k < static_cast<size_t>(n * i.image_bytes()); k += 8) {
            uint64_t w = 0;
            std::memcpy(&w, buf.data() + k, std::min<size_t>(8, n * i.image_bytes() - k));
            sum = mix64(sum ^ w);
          }
        }
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(sum));
        j["verified"] = true;
        j["checksum"] = hex;
      }
      std::printf("%s\n", j.dump().c_str());
      return 0;
    };
  });
  return sub;
}

}  // namespace gantry::cli

// gantry inspect FILE: validate a dataset and print what it holds (JSON); with
// --verify also read every image, which finds damage past the header (and,
// in files with chunk checksums, any changed byte of the images).
// gantry inspect --checkpoint FILE: a checkpoint's step, world size at save,
// config digest, parameter hash, and every tensor's shape and checksum.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include <xxhash.h>

#include "data/h5_image_file.h"
#include "train/checkpoint_nets.h"

namespace gantry::cli {

CLI::App* add_inspect_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("inspect", "Describe a dataset (FILE) or a checkpoint (--checkpoint FILE) as JSON");
  struct Opts {
    std::string path, checkpoint;
    bool verify = false;
    bool locking = true;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("file", o->path, "dataset .h5");
  sub->add_option("--checkpoint", o->checkpoint, "a checkpoint file instead of a dataset");
  sub->add_flag("--verify", o->verify, "read every image (reports truncation or corruption anywhere in the file)");
  sub->add_flag("--no-file-locking{false}", o->locking, "disable HDF5 file locking (NFS, Lustre)");
  sub->callback([&action, o] {
    action = [o] {
      if (o->path.empty() == o->checkpoint.empty())
        throw std::invalid_argument("inspect: give a dataset FILE or --checkpoint FILE");
      auto hex = [](uint64_t v) {
        char b[17];
        std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
        return std::string(b);
      };
      if (!o->checkpoint.empty()) {
        const auto flat = train::flatten_checkpoint(o->checkpoint);
        auto scalar = [&](const char* k) {
          const auto it = flat.tensors.find(k);
          return it == flat.tensors.end() ? int64_t{-1} : it->second.item<int64_t>();
        };
        const auto cfg = flat.strings.count(train::kConfigKey) ? flat.strings.at(train::kConfigKey) : std::string();
        nlohmann::json tensors;
        for (const auto& [k, t] : flat.tensors) {
          const auto c = t.contiguous();
          tensors[k] = {{"shape", c.sizes().vec()},
                        {"dtype", std::string(c.dtype().name())},
                        {"checksum", hex(XXH3_64bits(c.data_ptr(), c.numel() * c.element_size()))}};
        }
        nlohmann::json j = {{"checkpoint", o->checkpoint},
                            {"config_digest", hex(XXH3_64bits(cfg.data(), cfg.size()))},
                            {"tensors", tensors}};
        for (const auto& c : train::kCounterEntries)  // every counter; the hash as hex
          j[c.key] = std::string(c.key) == "param_hash" ? nlohmann::json(hex(static_cast<uint64_t>(scalar(c.key))))
                                                        : nlohmann::json(scalar(c.key));
        std::printf("%s\n", j.dump().c_str());
        return 0;
      }
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
      j["chunk_checksums"] = i.checksummed ? "fletcher32" : "none";
      if (o->verify) {
        // Reads every image in blocks (HDF5 verifies each chunk's Fletcher-32 as it reads)
        // and prints an XXH3 digest of the pixels, which equal files share.
        const int64_t block = std::max<int64_t>(1, (int64_t{64} << 20) / i.image_bytes());
        std::vector<uint8_t> buf(static_cast<size_t>(block * i.image_bytes()));
        std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), XXH3_freeState);
        XXH3_64bits_reset(state.get());
        for (int64_t s = 0; s < i.count; s += block) {
          const int64_t n = std::min(block, i.count - s);
          file.read_range(s, n, buf.data());
          XXH3_64bits_update(state.get(), buf.data(), static_cast<size_t>(n * i.image_bytes()));
        }
        const auto& labels = file.labels();
        XXH3_64bits_update(state.get(), labels.data(), labels.size() * sizeof(int64_t));
        j["verified"] = true;
        j["checksum"] = hex(XXH3_64bits_digest(state.get()));
      }
      std::printf("%s\n", j.dump().c_str());
      return 0;
    };
  });
  return sub;
}

}  // namespace gantry::cli

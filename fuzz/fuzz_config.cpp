// The TOML config loader and the --set parser on arbitrary text: the input is
// a config file, optionally followed by a line "#--set" and one override per
// line. load_config either throws std::invalid_argument (DataError is one) or
// returns a config that survives what a checkpoint does with it: to_toml ->
// config_from_saved_toml -> to_toml gives the same text. World sizes 1..4.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset_writer.h"
#include "fuzz_util.h"
#include "train/train_config.h"

namespace {

// Datasets the seed configs name, so that validation reaches the data checks.
void write_dataset(const std::string& path, int channels, int side) {
  gantry::data::WriterOptions o;
  o.channels = channels;
  o.height = o.width = side;
  o.overwrite = true;
  gantry::data::DatasetWriter w(path, o);
  std::vector<uint8_t> px(static_cast<size_t>(64) * channels * side * side, 128);
  w.append(px.data(), 64);
  w.commit();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::create_directories("/tmp/gantry-fuzz");
  write_dataset("/tmp/gantry-fuzz/gray28.h5", 1, 28);
  write_dataset("/tmp/gantry-fuzz/rgb32.h5", 3, 32);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gantry::fuzz::MemoryFile file;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t split = text.find("\n#--set\n");
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    for (size_t at = split + 8; at < text.size();) {
      const size_t nl = std::min(text.find('\n', at), text.size());
      overrides.push_back(text.substr(at, nl - at));
      at = nl + 1;
    }
  }
  const std::string toml = text.substr(0, split);
  const int world = 1 + static_cast<int>(size % 4);
  gantry::train::TrainConfig config;
  try {
    config = gantry::train::load_config(file.write(reinterpret_cast<const uint8_t*>(toml.data()), toml.size()),
                                        overrides, world);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string saved = gantry::train::to_toml(config);
  if (gantry::train::to_toml(gantry::train::config_from_saved_toml(saved)) != saved) std::abort();
  return 0;
}

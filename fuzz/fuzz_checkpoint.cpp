// The checkpoint readers (load_nets: sample/export; flatten_checkpoint:
// inspect/diff) on hostile files. They must succeed or throw
// std::invalid_argument naming the file; nothing else. Modes (first byte):
//   even: the bytes are the file: the footer (size, XXH3) must refuse damage.
//   odd:  the bytes are the config saved inside an otherwise well-formed
//         checkpoint of a small MLP: gantry's reading of a config against
//         networks it does not describe (another model, other shapes).
//   With GANTRY_FUZZ_TORCH_PAYLOAD=1, odd inputs are instead a LibTorch archive
//   given a valid footer, reaching LibTorch's own reader; it terminates the
//   process on some crafted archives (fuzz/upstream/, docs/FUZZING.md), so
//   this mode is for campaigns, not CI.
#include <xxhash.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "fuzz_util.h"
#include "models/networks.h"
#include "train/checkpoint_nets.h"
#include "train/train_config.h"

namespace {

std::string with_footer(std::string payload) {  // the footer of train/checkpoint_file.cpp
  const uint64_t n = payload.size(), hash = XXH3_64bits(payload.data(), payload.size());
  payload.append("GANTRYCK", 8);
  payload.append(reinterpret_cast<const char*>(&n), 8);
  payload.append(reinterpret_cast<const char*>(&hash), 8);
  return payload;
}

// A checkpoint of a small MLP whose saved config is `config_text`.
std::string mlp_checkpoint_with_config(const std::string& config_text) {
  static const auto model = gantry::train::config_from_saved_toml(
                                "[model]\narch = \"mlp\"\nz_dim = 2\nmlp_hidden = 8\nmlp_depth = 2\ndata_dim = 2\n")
                                .model;
  static const auto g = gantry::models::build_generator(model);
  static const auto d = gantry::models::build_discriminator(model);
  torch::serialize::OutputArchive archive;
  for (auto [key, module] :
       {std::pair<const char*, torch::nn::Module*>{"G", g.get()}, {"G_ema", g.get()}, {"D", d.get()}}) {
    torch::serialize::OutputArchive sub;
    module->save(sub);
    archive.write(key, sub);
  }
  archive.write("step", torch::tensor(int64_t{1}));
  archive.write("config", c10::IValue(config_text));
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gantry::fuzz::MemoryFile file;
  static const bool torch_payload = std::getenv("GANTRY_FUZZ_TORCH_PAYLOAD") != nullptr;
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) bytes = with_footer(torch_payload ? bytes : mlp_checkpoint_with_config(bytes));
  const std::string path = file.write(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  try {
    gantry::train::flatten_checkpoint(path);
  } catch (const std::invalid_argument&) {
  }
  try {
    gantry::train::load_nets(path);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}

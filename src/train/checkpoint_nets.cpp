#include "train/checkpoint_nets.h"

#include <regex>

#include "common/error_text.h"
#include "train/checkpoint_file.h"
#include "train/checkpoint_layout.h"

namespace gantry::train {

namespace fs = std::filesystem;

namespace {

std::string verified_payload(const fs::path& file) {
  if (!fs::exists(file)) throw std::invalid_argument(file.string() + ": no such file");
  try {
    return read_checkpoint_payload(file);
  } catch (const std::exception& e) {
    throw std::invalid_argument(file.string() + ": " + e.what());
  }
}

void flatten(torch::serialize::InputArchive& a, const std::string& prefix, FlatCheckpoint& out) {
  for (const auto& k : a.keys()) {
    torch::Tensor t;
    if (a.try_read(k, t)) {
      out.tensors[prefix + k] = t;
      continue;
    }
    torch::serialize::InputArchive sub;
    if (a.try_read(k, sub)) {
      flatten(sub, prefix + k + "/", out);
      continue;
    }
    c10::IValue v;
    if (a.try_read(k, v) && v.isString()) out.strings[prefix + k] = v.toStringRef();
  }
}

// The archive inside a verified payload; a payload that LibTorch cannot read
// (a file crafted with a valid footer) is a damaged checkpoint, said so by name.
void read_archive(const fs::path& file, const std::string& payload, torch::serialize::InputArchive& archive) {
  try {
    load_archive(archive, payload);
  } catch (const c10::Error& e) {
    throw std::invalid_argument(file.string() + ": not a readable checkpoint archive (" + one_line(e) + ")");
  }
}

}  // namespace

fs::path newest_checkpoint(const fs::path& run_dir) {
  auto c = load_newest_valid(run_dir, /*report=*/true);
  if (!c) throw std::invalid_argument(run_dir.string() + ": no valid checkpoint");
  return c->path;
}

CheckpointNets load_nets(const fs::path& file) {
  const auto payload = verified_payload(file);
  torch::serialize::InputArchive a;
  read_archive(file, payload, a);
  CheckpointNets n;
  try {
    n.config_text = read_checkpoint_config(a);
    n.config = config_from_saved_toml(n.config_text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(file.string() + ": " + e.what());
  }
  try {
    n.g = models::build_generator(n.config.model);
    n.g_ema = models::build_generator(n.config.model);
    n.d = models::build_discriminator(n.config.model);
    CheckpointParts nets;  // the networks only: no optimizer state is needed to sample or export
    nets.g = n.g.get();
    nets.d = n.d.get();
    nets.g_ema = n.g_ema.get();
    n.step = read_checkpoint_parts(a, nets).step;
    for (auto* m : {nets.g, nets.d, nets.g_ema}) m->eval();
  } catch (const c10::Error& e) {  // a missing entry, or tensors of other shapes than its config's networks
    throw std::invalid_argument(file.string() + ": damaged or foreign checkpoint (" + one_line(e) + ")");
  }
  return n;
}

FlatCheckpoint flatten_checkpoint(const fs::path& file) {
  const auto payload = verified_payload(file);
  torch::serialize::InputArchive a;
  read_archive(file, payload, a);
  FlatCheckpoint flat;
  flatten(a, "", flat);
  static const std::regex param(R"(^(opt_[a-z]+)/param_groups/param_groups/(\d+)/params/(\d+)$)");
  static const std::regex state(R"(^(opt_[a-z]+)/state/(\d+)/(.*)$)");
  std::map<std::string, std::string> position;  // "opt_g/<address>" → "<group>.<index>"
  std::smatch m;
  for (const auto& [k, v] : flat.strings)
    if (std::regex_match(k, m, param)) position[m[1].str() + "/" + v] = m[2].str() + "." + m[3].str();
  std::map<std::string, torch::Tensor> renamed;
  for (const auto& [k, t] : flat.tensors) {
    if (std::regex_match(k, m, state)) {
      const auto it = position.find(m[1].str() + "/" + m[2].str());
      if (it != position.end()) {
        renamed[m[1].str() + "/state/" + it->second + "/" + m[3].str()] = t;
        continue;
      }
    }
    renamed[k] = t;
  }
  flat.tensors = std::move(renamed);
  return flat;
}

}  // namespace gantry::train

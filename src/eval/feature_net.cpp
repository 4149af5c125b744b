#include "eval/feature_net.h"

#include "common/error_text.h"

#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace gantry::eval {

namespace fs = std::filesystem;

std::string file_digest(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument(file.string() + ": cannot open");
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    XXH3_64bits_update(st, buf.data(), static_cast<size_t>(in.gcount()));
  }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

FeatureNet::FeatureNet(const fs::path& file, torch::Device device) : device_(device), file_(file.string()) {
  if (!fs::is_regular_file(file)) throw std::invalid_argument("feature network " + file_ + ": no such file");
  try {
    module_ = torch::jit::load(file_, device);
  } catch (const std::exception& e) {
    throw std::invalid_argument("feature network " + file_ + ": not a TorchScript module (" + one_line(e) + ")");
  }
  module_.eval();
  auto forward = module_.find_method("forward");
  if (!forward) throw std::invalid_argument("feature network " + file_ + ": the module has no forward method");
  for (const auto& arg : forward->function().getSchema().arguments())
    if (arg.name() == "return_features") stylegan_ = true;
  digest_ = file_digest(file);
  if (module_.hasattr("feature_space") && module_.attr("feature_space").isString())
    space_ = module_.attr("feature_space").toStringRef();
  else
    space_ = stylegan_ ? "" : file.stem().string();
  // Whether it classifies: StyleGAN's Inception does; a generic module does if it returns a tuple.
  if (stylegan_) {
    classifies_ = true;
  } else if (module_.hasattr("classifies") && module_.attr("classifies").isBool()) {
    classifies_ = module_.attr("classifies").toBool();
  } else {
    classifies_ = forward->function().getSchema().returns().size() == 1 &&
                  forward->function().getSchema().returns()[0].type()->kind() == c10::TypeKind::TupleType;
  }
}

FeatureOutput FeatureNet::forward(const torch::Tensor& images) {
  torch::NoGradGuard ng;
  FeatureOutput out;
  try {
    if (stylegan_) {
      auto x = images.to(device_, torch::kFloat).mul(127.5).add(128).clamp(0, 255).to(torch::kUInt8);
      if (x.size(1) == 1) x = x.repeat({1, 3, 1, 1});
      out.features = module_.forward({x}, {{"return_features", true}}).toTensor();
      out.probs = module_.forward({x}, {{"no_output_bias", true}}).toTensor();
    } else {
      const auto r = module_.forward({images.to(device_, torch::kFloat)});
      if (r.isTuple()) {
        const auto& t = r.toTupleRef().elements();
        if (t.size() != 2)
          throw std::runtime_error("forward returned a tuple of " + std::to_string(t.size()) +
                                   ", not (features, logits)");
        out.features = t[0].toTensor();
        out.probs = torch::softmax(t[1].toTensor().to(torch::kFloat), 1);
      } else {
        out.features = r.toTensor();
      }
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("feature network " + file_ + " on " + std::to_string(images.size(0)) + "x" +
                             std::to_string(images.size(1)) + "x" + std::to_string(images.size(2)) + "x" +
                             std::to_string(images.size(3)) + " images: " + one_line(e));
  }
  if (out.features.dim() != 2 || out.features.size(0) != images.size(0))
    throw std::runtime_error("feature network " + file_ + ": features must be [N, F]");
  out.features = out.features.to(torch::kCPU, torch::kFloat);
  if (out.probs.defined()) out.probs = out.probs.to(torch::kCPU, torch::kFloat);
  return out;
}

}  // namespace gantry::eval

// TorchScript twins of a generator (`gantry export --format torchscript`): a
// module Python loads with torch.jit.load alone and calls as g(z) — or
// g(z, step, first_sample) for stochastic banks — getting the images the C++
// generator computes in eval mode, bit for bit on the same device.
//
// Why defined, not traced: a trace records one batch size and one set of
// routes; the twin is TorchScript source written next to each generator's
// forward (`to_torchscript`), calling the same ATen ops in the same order on
// baked tensors:
//   - weight layers hold their effective weight (SN: W/σ with the stored u, v
//     as eval mode uses them; WN: g·v/‖v‖), so SN/WN code is not needed;
//   - batch norm is its eval form (running statistics), layer norm and VBN
//     are written out (VBN keeps its reference noise z_ref as a buffer and
//     propagates it with every call, as the C++ forward does);
//   - stochastic banks draw their routes with draw_routes() rewritten in
//     TorchScript on int64 tensors (SplitMix64 keys and Lemire's bounded draw,
//     common/rng.h), a pure function of (seed, step, layer, global sample
//     index): gantry sample uses step 0 and the sample's index.
#pragma once
#include <torch/script.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace gantry::models {

class Generator;
class VbnReference;

namespace script {

// A double as TorchScript source that reads back to the same bits.
std::string number(double v);

// The name under which `parent` registered `child` (throws if it did not).
std::string child_name(const torch::nn::Module& parent, const torch::nn::Module& child);

// The twin of one of gantry's layers: WeightLayer (forward(x)), NormLayer
// (forward(x, n_ref: int)), StochasticDeconv (forward(x, routes)) or PReLU.
// Throws std::invalid_argument for another module type.
torch::jit::Module layer(torch::nn::Module& m);

// A generator's forward written as TorchScript lines: the signature, the VBN
// reference rows in front of z and off the output, the route draws.
class GeneratorSource {
 public:
  // vbn: the generator's reference (inactive when it does not use VBN);
  // route_seed: the seed of its stochastic banks (unused without banks).
  GeneratorSource(const Generator& g, const VbnReference& vbn, uint64_t route_seed);

  // Registers the twin of `child` (a registered child of g) under g's name for
  // it and returns "self.<name>.forward" (a module defined from C++ sees its
  // children as objects: their forward is called by name).
  std::string add(torch::nn::Module& child);
  // Registers a hand-built twin (a composite block) under `name`.
  std::string add(const std::string& name, const torch::jit::Module& twin);

  // Body lines of forward(self, z, step: int = 0, first_sample: int = 0), in
  // order. The body starts with `h` = z with the VBN rows in front and `n_ref`.
  void line(const std::string& code) { body_.push_back(code); }
  // An expression: the routes of bank `layer` with `sets` filter sets for this
  // call's rows (reference rows first), as draw_routes gives them.
  std::string routes(int64_t layer, int64_t sets);
  // An expression: `x` without the VBN reference rows.
  std::string live(const std::string& x) const;

  // The finished module (eval mode), returning `return_expr`; attributes
  // z_dim and route_seed.
  torch::jit::Module finish(const std::string& return_expr);

 private:
  const Generator& g_;
  bool vbn_;
  uint64_t route_seed_;
  bool uses_routes_ = false;
  torch::jit::Module m_;
  std::vector<std::string> body_;
};

}  // namespace script
}  // namespace gantry::models

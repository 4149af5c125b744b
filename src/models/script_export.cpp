#include "models/script_export.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <utility>
#include <stdexcept>

#include "models/blocks.h"
#include "models/networks.h"
#include "models/stochastic_deconv.h"

namespace gantry::models::script {

namespace {

// int64 TorchScript literal of a uint64 bit pattern (two's complement).
std::string bits(uint64_t v) {
  const auto s = static_cast<int64_t>(v);
  if (s == INT64_MIN) return "(-9223372036854775807 - 1)";
  std::string out = std::to_string(s);
  return s < 0 ? out.insert(0, 1, '(').append(1, ')') : out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

const torch::Tensor& tensor_of(const torch::nn::Module& m, const std::string& name) {
  if (const auto* p = m.named_parameters(false).find(name)) return *p;
  if (const auto* b = m.named_buffers(false).find(name)) return *b;
  throw std::logic_error("torchscript export: " + m.name() + " has no tensor '" + name + "'");
}

torch::Tensor baked(const torch::Tensor& t) { return t.detach().clone(); }

torch::jit::Module weight_layer(WeightLayerImpl& l) {
  torch::NoGradGuard ng;
  const auto& o = l.options();
  torch::jit::Module t("gantry_WeightLayer");
  // The weight as the layer applies it in eval mode (SN: W/σ from the stored u, v; WN: g v/‖v‖).
  t.register_parameter("weight", baked(l.effective_weight()), false);
  const auto* bias = l.named_parameters(false).find("bias");
  if (bias) t.register_parameter("bias", baked(*bias), false);
  const std::string b = bias ? "self.bias" : "None";
  const std::string stride = std::to_string(o.stride()), pad = std::to_string(o.padding());
  const std::string sp = std::string("[")
                             .append(stride)
                             .append(", ")
                             .append(stride)
                             .append("], [")
                             .append(pad)
                             .append(", ")
                             .append(pad)
                             .append("]");
  std::string call;
  switch (o.kind()) {  // the calls WeightLayerImpl::forward makes (torch::nn::functional's defaults spelled out)
    case LayerKind::kConv:
      call = "torch.conv2d(x, self.weight, " + b + ", " + sp + ")";
      break;
    case LayerKind::kDeconv:
      call = "torch.conv_transpose2d(x, self.weight, " + b + ", " + sp + ")";
      break;
    case LayerKind::kLinear:
      call = "torch.linear(x, self.weight, " + b + ")";
      break;
  }
  t.define("def forward(self, x: Tensor) -> Tensor:\n    return " + call + "\n");
  return t;
}

torch::jit::Module prelu(torch::nn::PReLUImpl& p) {
  torch::jit::Module t("gantry_PReLU");
  t.register_parameter("weight", baked(p.weight), false);
  t.define("def forward(self, x: Tensor) -> Tensor:\n    return torch.prelu(x, self.weight)\n");
  return t;
}

// Virtual batch norm (models/virtual_batch_norm.cpp), the same ops in the same order.
const char* kVbnForward = R"(
def forward(self, x: Tensor, n_ref: int) -> Tensor:
    channels = self.weight.size(0)
    spatial = [d for d in range(2, x.dim())]
    ref_dims = [0] + spatial
    view = [1, channels] + [1 for d in spatial]
    ref = x.narrow(0, 0, n_ref)
    mu_ref = ref.mean(ref_dims).view(view)
    q_ref = ref.square().mean(ref_dims).view(view)
    gamma = self.weight.view(view)
    beta = self.bias.view(view)
    y_ref = (ref - mu_ref) * torch.rsqrt(q_ref - mu_ref.square() + self.eps) * gamma + beta
    n_live = x.size(0) - n_ref
    if n_live == 0:
        return y_ref
    live = x.narrow(0, n_ref, n_live)
    if len(spatial) == 0:
        mu_x = live
        q_x = live.square()
    else:
        mu_x = live.mean(spatial, True)
        q_x = live.square().mean(spatial, True)
    c = 1.0 / (n_ref + 1)
    mu = c * mu_x + (1 - c) * mu_ref
    q = c * q_x + (1 - c) * q_ref
    return torch.cat([y_ref, (live - mu) * torch.rsqrt(q - mu.square() + self.eps) * gamma + beta], 0)
)";

torch::jit::Module norm_layer(NormLayerImpl& n) {
  torch::NoGradGuard ng;
  const std::string sig = "def forward(self, x: Tensor, n_ref: int) -> Tensor:\n    return ";
  switch (n.kind()) {
    case NormKind::kNone: {
      torch::jit::Module t("gantry_NoNorm");
      t.define(sig + "x\n");
      return t;
    }
    case NormKind::kBatch: {  // eval: the running statistics (ATen's fused kernel, as BatchNormImpl calls it)
      const auto& bn = *n.named_children()[0].value()->as<BatchNormImpl>();
      torch::jit::Module t("gantry_BatchNorm");
      for (const char* p : {"weight", "bias"}) t.register_parameter(p, baked(tensor_of(bn, p)), false);
      for (const char* b : {"running_mean", "running_var"}) t.register_buffer(b, baked(tensor_of(bn, b)));
      t.define(sig + "torch.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var, False, " +
               number(bn.options().momentum) + ", " + number(bn.options().eps) + ", True)\n");
      return t;
    }
    case NormKind::kLayer: {  // GroupNorm(1, C)
      const auto& ln = *n.named_children()[0].value()->as<torch::nn::GroupNormImpl>();
      torch::jit::Module t("gantry_LayerNorm");
      for (const char* p : {"weight", "bias"}) t.register_parameter(p, baked(tensor_of(ln, p)), false);
      t.define(sig + "torch.group_norm(x, " + std::to_string(ln.options.num_groups()) + ", self.weight, self.bias, " +
               number(ln.options.eps()) + ", True)\n");
      return t;
    }
    case NormKind::kVirtualBatch: {
      const auto& vbn = *n.named_children()[0].value()->as<VirtualBatchNormImpl>();
      torch::jit::Module t("gantry_VirtualBatchNorm");
      for (const char* p : {"weight", "bias"}) t.register_parameter(p, baked(tensor_of(vbn, p)), false);
      t.register_attribute("eps", c10::FloatType::get(), vbn.eps());
      t.define(kVbnForward);
      return t;
    }
  }
  throw std::logic_error("torchscript export: unknown norm kind");
}

// StochasticDeconvImpl::forward unrolled over its filter sets.
torch::jit::Module bank(StochasticDeconvImpl& b) {
  torch::jit::Module t("gantry_StochasticBank");
  std::vector<std::string> src = {"def forward(self, x: Tensor, routes: Tensor) -> Tensor:",
                                  "    r = routes.to(x.device)", "    out = torch.empty([0])", "    started = False"};
  for (int64_t s = 0; s < b.filter_sets(); ++s) {
    const std::string n = std::to_string(s);
    for (const char* part : {"set", "act"}) {
      auto child = b.named_children()[part + n];
      t.register_module(part + n, layer(*child));
    }
    src.insert(src.end(),
               {"    idx = (r == " + n + ").nonzero().flatten()", "    if idx.numel() > 0:",
                "        y = self.act" + n + ".forward(self.set" + n + ".forward(x.index_select(0, idx)))",
                "        if not started:", "            shape = y.size()", "            shape[0] = x.size(0)",
                "            out = torch.zeros(shape, dtype=y.dtype, layout=y.layout, device=y.device)",
                "            started = True", "        out = out.index_copy(0, idx, y)"});
  }
  src.push_back("    return out");
  t.define(join(src));
  return t;
}

// draw_routes (models/stochastic_deconv.cpp) on int64 tensors, whose
// arithmetic wraps as uint64's does; `>>` is arithmetic, so logical shifts
// mask. Placeholders {NAME} are filled in by routes_source.
const char* kRoutesSource = R"(
def _srl(self, x: Tensor, k: int) -> Tensor:
    return (x >> k) & ((1 << (64 - k)) - 1)

def _mix64(self, x: Tensor) -> Tensor:
    x = x + {GOLDEN}
    x = (x ^ self._srl(x, 30)) * {M1}
    x = (x ^ self._srl(x, 27)) * {M2}
    return x ^ self._srl(x, 31)

def _key(self, a: Tensor, b: Tensor) -> Tensor:
    return self._mix64(self._mix64(a) ^ (b + {K2}))

def _times(self, x: Tensor, n: int) -> Tuple[Tensor, Tensor]:
    # the high and low 64 bits of the 128-bit product x·n (0 < n < 2^31)
    t = (x & 4294967295) * n
    return (self._srl(x, 32) * n + self._srl(t, 32)) >> 32, x * n

def draw_routes(self, step: int, layer: int, first_sample: int, n: int, k: int) -> Tensor:
    one = [1]
    seed = torch.full(one, {SEED}, dtype={INT64})
    prefix = self._key(self._key(seed, torch.full(one, step, dtype={INT64})), torch.full(one, layer, dtype={INT64}))
    state = self._key(prefix, torch.arange(first_sample, first_sample + n, dtype={INT64}))
    # SplitMix64(state).below(k): Lemire's multiply-shift with rejection; unsigned a < b as signed a ^ 2^63 < b ^ 2^63
    hi, lo = self._times(self._mix64(state), k)
    threshold = ((((1 << 62) % k) * 4) % k) ^ {MIN}
    reject = (lo ^ {MIN}) < threshold
    while bool(reject.any()):
        state = state + {GOLDEN}
        hi2, lo2 = self._times(self._mix64(state), k)
        hi = torch.where(reject, hi2, hi)
        lo = torch.where(reject, lo2, lo)
        reject = reject & ((lo ^ {MIN}) < threshold)
    return hi
)";

std::string routes_source(uint64_t seed) {
  // SplitMix64's constants (common/rng.h) as int64 literals; the dtype as its ScalarType number, as
  // saved TorchScript writes it (C++'s resolver has no torch.int64).
  const std::pair<const char*, std::string> fill[] = {
      {"{GOLDEN}", bits(0x9E3779B97F4A7C15ull)},
      {"{M1}", bits(0xBF58476D1CE4E5B9ull)},
      {"{M2}", bits(0x94D049BB133111EBull)},
      {"{K2}", bits(0x632BE59BD9B4E019ull)},
      {"{MIN}", bits(1ull << 63)},
      {"{SEED}", bits(seed ^ 0x726f757465ull)},
      {"{INT64}", std::to_string(static_cast<int>(c10::ScalarType::Long))}};
  std::string src = kRoutesSource;
  for (const auto& [key, value] : fill)
    for (auto at = src.find(key); at != std::string::npos; at = src.find(key, at + value.size()))
      src.replace(at, std::strlen(key), value);
  return src;
}

}  // namespace

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // a float literal, not an int
  return s;
}

std::string child_name(const torch::nn::Module& parent, const torch::nn::Module& child) {
  for (const auto& c : parent.named_children())
    if (c.value().get() == &child) return c.key();
  throw std::logic_error("torchscript export: " + child.name() + " is not a child of " + parent.name());
}

torch::jit::Module layer(torch::nn::Module& m) {
  if (auto* w = m.as<WeightLayerImpl>()) return weight_layer(*w);
  if (auto* n = m.as<NormLayerImpl>()) return norm_layer(*n);
  if (auto* b = m.as<StochasticDeconvImpl>()) return bank(*b);
  if (auto* p = m.as<torch::nn::PReLUImpl>()) return prelu(*p);
  throw std::invalid_argument("torchscript export: no TorchScript twin for " + m.name());
}

GeneratorSource::GeneratorSource(const Generator& g, const VbnReference& vbn, uint64_t route_seed)
    : g_(g), vbn_(vbn.active()), route_seed_(route_seed), m_("gantry_generator") {
  if (g.is_training()) throw std::logic_error("torchscript export: the generator must be in eval mode");
  if (vbn_) {
    m_.register_buffer("vbn_z_ref", baked(tensor_of(g, "vbn_z_ref")));
    body_ = {"    n_ref = self.vbn_z_ref.size(0)", "    h = torch.cat([self.vbn_z_ref.to(z.dtype), z], 0)"};
  } else {
    body_ = {"    n_ref = 0", "    h = z"};
  }
}

std::string GeneratorSource::add(torch::nn::Module& child) { return add(child_name(g_, child), layer(child)); }

std::string GeneratorSource::add(const std::string& name, const torch::jit::Module& twin) {
  m_.register_module(name, twin);
  return "self." + name + ".forward";
}

std::string GeneratorSource::routes(int64_t layer, int64_t sets) {
  if (sets <= 0 || sets >= (int64_t{1} << 31)) throw std::logic_error("torchscript export: filter sets out of range");
  uses_routes_ = true;
  const std::string l = std::to_string(layer), k = std::to_string(sets);
  const std::string own = "self.draw_routes(step, " + l + ", first_sample, z.size(0), " + k + ")";
  if (!vbn_) return own;
  // Reference rows: indices from 2^40 on (as the C++ generators draw them).
  return "torch.cat([self.draw_routes(step, " + l + ", " + std::to_string(int64_t{1} << 40) + ", n_ref, " + k + "), " +
         own + "])";
}

std::string GeneratorSource::live(const std::string& x) const {
  return vbn_ ? x + ".narrow(0, n_ref, " + x + ".size(0) - n_ref)" : x;
}

torch::jit::Module GeneratorSource::finish(const std::string& return_expr) {
  m_.register_attribute("z_dim", c10::IntType::get(), g_.z_dim());
  m_.register_attribute("route_seed", c10::IntType::get(), static_cast<int64_t>(route_seed_));
  if (uses_routes_) m_.define(routes_source(route_seed_));
  body_.push_back("    return " + return_expr);
  m_.define("def forward(self, z: Tensor, step: int = 0, first_sample: int = 0) -> Tensor:\n" + join(body_));
  m_.eval();
  return m_;
}

}  // namespace gantry::models::script

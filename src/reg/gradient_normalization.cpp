#include "reg/gradient_normalization.h"

#include <stdexcept>

namespace gantry::reg {

torch::Tensor normalize_output(GradNorm kind, const torch::Tensor& f, const torch::Tensor& x) {
  if (kind == GradNorm::kNone) return f;
  if (!x.requires_grad()) throw std::invalid_argument("GN/PGN: D's input must require grad");
  const auto flat = f.reshape({f.size(0)});
  const auto grad = torch::autograd::grad({flat.sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  const auto g = grad.reshape({grad.size(0), -1});
  torch::Tensor out;
  if (kind == GradNorm::kGN) {
    out = flat / (g.norm(2, 1) + flat.abs());
  } else {
    const auto one_minus_f = 1 - flat;
    out = one_minus_f / ((1 - g).norm(2, 1) + one_minus_f.abs());
  }
  return out.view(f.sizes());
}

}  // namespace gantry::reg

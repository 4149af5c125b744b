#include "reg/split_loss.h"

#include <algorithm>
#include <stdexcept>

namespace gantry::reg {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr double kScale = 1.0 / 25.0;  // the seed's (a − b)/25

// Rows [r0, r1) of m against rows (r0, B): s[a][c] = (m_{r0+1+c} − m_{r0+a}) / 25, shape (r1−r0, B−r0−1, D).
// Pair (r0+a, r0+1+c) is one of the k < j pairs exactly when c ≥ a.
torch::Tensor scaled_differences(const torch::Tensor& m, int64_t r0, int64_t r1) {
  const int64_t b = m.size(0);
  auto s = m.narrow(0, r0 + 1, b - r0 - 1).unsqueeze(0) - m.narrow(0, r0, r1 - r0).unsqueeze(1);
  return s.mul_(kScale);
}

// The k < j mask of one block, in m's dtype: ones where c ≥ a.
torch::Tensor pair_mask(int64_t rows, int64_t cols, const torch::TensorOptions& opt) {
  return torch::ones({rows, cols}, opt).triu_(0);
}

int64_t block_rows(int64_t b, int64_t d, int64_t block_elements) {
  return std::clamp<int64_t>(block_elements / std::max<int64_t>(1, b * d), 1, b - 1);
}

// The output is a scalar, so its gradient is g · ∂(pair sum)/∂m for the upstream g: forward computes
// ∂/∂m once per block while tanh(s⁴) is at hand and keeps that B × D matrix; backward scales it.
// (No second tanh in backward, no saved pair tensors; the cost is that the node has no
// double backward, which nothing needs: the split loss is a G loss term, never under a penalty.)
struct PairLogSum : torch::autograd::Function<PairLogSum> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& m, double eps, int64_t block_elements,
                               bool with_grad) {
    const int64_t b = m.size(0), d = m.size(1);
    const int64_t rows = block_rows(b, d, block_elements);
    auto total = torch::zeros({}, m.options());
    torch::Tensor grad = with_grad ? torch::zeros_like(m) : torch::Tensor();
    for (int64_t r0 = 0; r0 + 1 < b; r0 += rows) {
      const int64_t r1 = std::min(r0 + rows, b - 1), nk = r1 - r0, nj = b - r0 - 1;
      const auto mask = pair_mask(nk, nj, m.options());
      const auto s = scaled_differences(m, r0, r1);
      auto t = s.square();
      t.square_().tanh_();  // tanh(s⁴): squaring twice, not pow (Sleef's powf was a fifth of a step)
      const auto f = t.mean(-1);
      total += (torch::log(f + eps) * mask).sum();
      if (!with_grad) continue;
      // ∂ log(f_kj + ε)/∂m_j = 1/(f_kj + ε) · (1/D) · (1 − tanh²(s⁴)) · 4 s³/25, s = (m_j − m_k)/25; −that for m_k.
      const auto coef = mask.div_(f + eps).mul_(4.0 * kScale / static_cast<double>(d));
      t.square_().neg_().add_(1.0).mul_(s).mul_(s).mul_(s).mul_(coef.unsqueeze(-1));
      grad.narrow(0, r0 + 1, nj).add_(t.sum(0));
      grad.narrow(0, r0, nk).sub_(t.sum(1));
    }
    if (with_grad) ctx->save_for_backward({grad});
    return total;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    // The saved gradient has no graph back to m: a second derivative would silently be 0, so refuse one.
    if (torch::GradMode::is_enabled())
      throw std::logic_error("split loss: the pair sum is differentiable once (no create_graph through it)");
    const auto saved = ctx->get_saved_variables();
    return {saved[0] * grad_out[0], torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

std::vector<double> split_loss_weights(size_t n) {
  const std::vector<double> seed = {0.03125, 0.0625, 0.125, 0.25, 0.53125};
  if (n > seed.size()) throw std::invalid_argument("split loss: at most 5 feature-map resolutions (4..64)");
  return {seed.begin(), seed.begin() + static_cast<long>(n)};
}

torch::Tensor pair_log_sum(const torch::Tensor& m, const SplitLossOptions& options) {
  if (m.dim() != 2) throw std::invalid_argument("split loss: pair_log_sum takes a (B, D) matrix");
  if (m.size(0) < 2) throw std::invalid_argument("split loss needs at least 2 samples per rank");
  // ε > 0 keeps the masked-out pairs (k ≥ j, where F can be 0) finite: they are multiplied by 0, not skipped.
  if (!(options.eps > 0)) throw std::invalid_argument("split loss: eps must be positive");
  if (options.block_elements < 1) throw std::invalid_argument("split loss: block_elements must be positive");
  return PairLogSum::apply(m.contiguous(), options.eps, options.block_elements,
                           m.requires_grad() && torch::GradMode::is_enabled());
}

torch::Tensor split_loss(const std::vector<torch::Tensor>& maps, const std::vector<double>& weights,
                         const SplitLossOptions& options) {
  if (maps.size() != weights.size()) throw std::invalid_argument("split loss: one weight per feature map");
  torch::Tensor total;
  for (size_t i = 0; i < maps.size(); ++i) {
    const int64_t b = maps[i].size(0);
    // flatten(1), not reshape({b, -1}): an empty batch stays (0, D) and reaches pair_log_sum's one check.
    const auto rows = pair_log_sum(maps[i].flatten(1), options);
    const auto term = (2.0 * weights[i] / static_cast<double>(b * (b - 1))) * rows;
    total = total.defined() ? total + term : term;
  }
  return -total;  // the decision above: maximise L_split
}

}  // namespace gantry::reg

// Inception Score [Salimans et al. 2016; docs/EVALUATION.md]:
//   IS = exp(E_x KL(p(y|x) ‖ p(y))),  p(y) = E_x p(y|x),
// computed on each of `splits` contiguous parts of the samples (part i holds
// rows [i·N/s, (i+1)·N/s)), reported as mean ± std (population std) over parts,
// as in the reference implementation. Any classifier's probabilities work;
// the number is only comparable across runs that use the same classifier.
#pragma once
#include <torch/torch.h>

namespace gantry::eval {

struct InceptionScore {
  double mean = 0, std = 0;
  int64_t splits = 0;
};

// probs: [N, K], rows non-negative summing to 1 (±1e-3); N ≥ splits ≥ 1.
// Throws std::invalid_argument otherwise.
InceptionScore inception_score(const torch::Tensor& probs, int64_t splits = 10);

}  // namespace gantry::eval

// Consistency regularization [Zhang et al. 2020; docs/TECHNIQUES.md]:
//   λ E_real (D(x) − D(T(x)))²,  T = random horizontal flip + shift with
//   zero fill of up to `max_shift_frac` of the size (PGN's seed: ≤ 20 %).
// Under GN/PGN both D outputs are the normalised f̂.
#pragma once
#include <torch/torch.h>

namespace gantry::reg {

// T(x): per-sample flip (p = ½) and integer shift in [−s, s]² pixels,
// s = floor(max_shift_frac · size), vacated pixels zero. Draws from `gen`.
torch::Tensor cr_augment(const torch::Tensor& x, double max_shift_frac, torch::Generator gen);

// λ · mean((d_x − d_tx)²), both (B) or (B, 1).
torch::Tensor consistency_term(const torch::Tensor& d_x, const torch::Tensor& d_tx, double lambda);

}  // namespace gantry::reg

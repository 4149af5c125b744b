// Sample diversity as one number: the mean Euclidean distance between two
// distinct generated samples, E_{i<j} ‖f_i − f_j‖, in a feature space (the
// feature network's, or the points themselves for 2-D models). A collapsed G
// drives it toward 0. (DiReAL's R(G), R(D) of a checkpoint are the weight-side
// diversity numbers; they are computed by reg::Direal.)
#pragma once
#include <torch/torch.h>

namespace gantry::eval {

// features: [N ≥ 2, F]; exact over all N(N−1)/2 pairs, in float64, in row blocks.
double mean_pairwise_distance(const torch::Tensor& features);

}  // namespace gantry::eval

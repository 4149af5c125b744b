// What the trainer reads real data from: this rank's share of each global
// batch, and the position a checkpoint stores to resume from. Two sources:
// PrefetchLoader (an HDF5-packed dataset) and MixtureSource (2-D mixtures
// drawn on the fly).
#pragma once
#include <torch/torch.h>

#include "data/sampler.h"

namespace gantry::data {

struct Batch {
  torch::Tensor images;   // float [B/W, C, H, W] in [−1, 1] (2-D mixtures: [B/W, 2]), on the device
  torch::Tensor labels;   // int64 [B/W] on the device, undefined if the source has none
  torch::Tensor indices;  // int64 [B/W] dataset indices (CPU)
  SamplerState next;      // the position after this batch (what a checkpoint stores)
  int64_t epoch = 0;      // epoch of the batch's first slot
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Batch next() = 0;
  // Position after the last batch next() returned: resume from here.
  virtual SamplerState state() const = 0;
};

}  // namespace gantry::data

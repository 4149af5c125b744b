// The trainer's real data, made from the config: a 2-D mixture drawn on the
// fly (data.mixture) or the packed dataset through the prefetching loader
// (data.path), positioned at `start` (a resumed run's sampler position).
#pragma once
#include <torch/torch.h>

#include <memory>

#include "data/batch_source.h"
#include "train/train_config.h"

namespace gantry::train {

std::unique_ptr<data::BatchSource> make_batch_source(const TrainConfig& config, const data::SamplerState& start,
                                                     int rank, int world, torch::Device device);

}  // namespace gantry::train

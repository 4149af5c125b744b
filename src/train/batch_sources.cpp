#include "train/batch_sources.h"

#include "common/mixture2d.h"
#include "data/mixture_source.h"
#include "data/prefetch_loader.h"

namespace gantry::train {

std::unique_ptr<data::BatchSource> make_batch_source(const TrainConfig& c, const data::SamplerState& start, int rank,
                                                     int world, torch::Device device) {
  if (!c.data.mixture.empty())
    return std::make_unique<data::MixtureSource>(mixture_by_name(c.data.mixture), c.train.seed, c.data.batch, rank,
                                                 world, start, device, c.data.mixture_pool);
  data::LoaderOptions lo;
  lo.path = c.data.path;
  lo.open.file_locking = c.data.file_locking;
  lo.in_memory = c.data.in_memory;
  lo.global_batch = c.data.batch;
  lo.seed = c.train.seed;
  lo.last_batch = c.data.last_batch;
  lo.start = start;
  lo.rank = rank;
  lo.world = world;
  lo.prefetch = static_cast<int>(c.data.prefetch);
  lo.decode_threads = static_cast<int>(c.data.decode_threads);
  lo.augment.hflip = c.data.hflip;
  lo.augment.max_shift = static_cast<int>(c.data.shift);
  lo.device = device;
  return std::make_unique<data::PrefetchLoader>(lo);
}

}  // namespace gantry::train

// The training-side reader: this rank's share of each global batch, read from
// the HDF5 file by one I/O thread (the only thread that calls HDF5 for it),
// decoded to float and augmented by decode threads, and held in a bounded
// prefetch window so that reading overlaps training. On CUDA the host batch is
// pinned and copied with non_blocking.
//
//   I/O thread ──raw uint8 batches──► decode threads ──float batches──► next()
//        at most `prefetch` batches in flight between the I/O thread and next()
//
// Open after MPI init, per rank, read-only. Errors in the threads (a read
// failure) are rethrown by next() with the file's name.
#pragma once
#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/batch_source.h"
#include "data/dataset_format.h"
#include "data/h5_image_file.h"
#include "data/sampler.h"

namespace gantry::data {

struct LoaderOptions {
  std::string path;
  OpenOptions open;
  bool in_memory = false;  // read the whole images dataset into RAM at start
  int64_t global_batch = 64;
  uint64_t seed = 0;
  LastBatch last_batch = LastBatch::kDrop;
  SamplerState start;  // resume position (from a checkpoint)
  int rank = 0;
  int world = 1;
  int prefetch = 4;        // batches in flight
  int decode_threads = 1;  // float conversion + augmentation workers
  AugmentOptions augment;
  torch::Device device = torch::kCPU;
};

class PrefetchLoader : public BatchSource {
 public:
  // Opens and validates the file (on the I/O thread) before returning; throws
  // DataError for a bad file and std::invalid_argument for bad options.
  explicit PrefetchLoader(LoaderOptions options);
  ~PrefetchLoader() override;
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  Batch next() override;
  // Position after the last batch next() returned: resume from here.
  SamplerState state() const override { return consumed_state_; }
  const DatasetInfo& info() const { return info_; }
  const GlobalBatchSampler& sampler() const { return *sampler_; }
  int64_t local_batch() const { return opt_.global_batch / opt_.world; }
  // Seconds next() spent waiting for data (input stall), summed.
  double wait_seconds() const { return wait_s_; }

 private:
  struct Raw {
    std::vector<Slot> slots;
    std::vector<uint8_t> pixels;
    std::vector<int64_t> labels;
    SamplerState next;
    int64_t epoch = 0;
  };
  void io_main(std::shared_ptr<std::promise<void>> opened);
  void decode_main();
  void fail(std::exception_ptr e);

  LoaderOptions opt_;
  DatasetInfo info_;
  std::unique_ptr<GlobalBatchSampler> sampler_;
  SamplerState consumed_state_;
  double wait_s_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;
  int64_t produced_ = 0;            // batches the I/O thread has started
  int64_t consumed_ = 0;            // batches next() has returned
  std::map<int64_t, Raw> raw_;      // read, waiting for a decode thread
  std::map<int64_t, Batch> ready_;  // decoded, waiting for next()
  std::thread io_;
  std::vector<std::thread> decoders_;
};

}  // namespace gantry::data

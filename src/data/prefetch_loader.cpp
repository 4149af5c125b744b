#include "data/prefetch_loader.h"

#include <chrono>
#include <cstring>
#include <future>

#include "data/data_error.h"

namespace gantry::data {

PrefetchLoader::PrefetchLoader(LoaderOptions options) : opt_(std::move(options)), consumed_state_(opt_.start) {
  if (opt_.world <= 0 || opt_.rank < 0 || opt_.rank >= opt_.world)
    throw std::invalid_argument("loader: rank " + std::to_string(opt_.rank) + " of world " +
                                std::to_string(opt_.world));
  if (opt_.global_batch <= 0 || opt_.global_batch % opt_.world != 0)
    throw std::invalid_argument("global batch " + std::to_string(opt_.global_batch) +
                                " must be a positive multiple of the world size " + std::to_string(opt_.world));
  if (opt_.prefetch < 1) throw std::invalid_argument("loader: prefetch must be at least 1");
  if (opt_.decode_threads < 1) throw std::invalid_argument("loader: decode threads must be at least 1");
  if (opt_.augment.max_shift < 0) throw std::invalid_argument("loader: shift must be non-negative");

  auto opened = std::make_shared<std::promise<void>>();
  auto ready = opened->get_future();
  io_ = std::thread(&PrefetchLoader::io_main, this, opened);
  try {
    ready.get();  // the file's validation error, if any
  } catch (...) {
    io_.join();
    throw;
  }
  for (int i = 0; i < opt_.decode_threads; ++i) decoders_.emplace_back(&PrefetchLoader::decode_main, this);
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (io_.joinable()) io_.join();
  for (auto& t : decoders_) t.join();
}

void PrefetchLoader::fail(std::exception_ptr e) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!error_) error_ = e;
    stop_ = true;
  }
  cv_.notify_all();
}

void PrefetchLoader::io_main(std::shared_ptr<std::promise<void>> opened) {
  std::unique_ptr<H5ImageFile> file;
  std::vector<uint8_t> whole;  // in-memory mode
  try {
    file = std::make_unique<H5ImageFile>(opt_.path, opt_.open);
    info_ = file->info();
    const int64_t c = info_.channels, h = info_.height, w = info_.width;
    if (opt_.augment.max_shift >= h || opt_.augment.max_shift >= w)
      throw std::invalid_argument("loader: shift " + std::to_string(opt_.augment.max_shift) +
                                  " must be smaller than the image (" + std::to_string(h) + "x" + std::to_string(w) +
                                  ")");
    sampler_ = std::make_unique<GlobalBatchSampler>(info_.count, opt_.global_batch, opt_.seed, opt_.last_batch);
    sampler_->check_state(opt_.start);
    if (opt_.in_memory) {
      whole.resize(static_cast<size_t>(info_.count * c * h * w));
      const int64_t step = std::max<int64_t>(1, (int64_t{256} << 20) / info_.image_bytes());
      for (int64_t s = 0; s < info_.count; s += step)
        file->read_range(s, std::min(step, info_.count - s), whole.data() + s * info_.image_bytes());
    }
  } catch (...) {
    opened->set_exception(std::current_exception());
    return;
  }
  opened->set_value();

  try {
    const int64_t bytes = info_.image_bytes();
    SamplerState state = opt_.start;
    for (;;) {
      int64_t seq;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || produced_ - consumed_ < opt_.prefetch; });
        if (stop_) return;
        seq = produced_++;
      }
      Raw raw;
      raw.epoch = sampler_->batch_start(state).epoch;
      raw.slots = sampler_->next_local(state, opt_.rank, opt_.world);
      raw.next = state;
      raw.pixels.resize(raw.slots.size() * static_cast<size_t>(bytes));
      for (size_t i = 0; i < raw.slots.size(); ++i) {
        const int64_t img = raw.slots[i].image;
        if (opt_.in_memory)
          std::memcpy(raw.pixels.data() + i * bytes, whole.data() + img * bytes, static_cast<size_t>(bytes));
        else
          file->read_image(img, raw.pixels.data() + i * bytes);
        if (info_.has_labels) raw.labels.push_back(file->labels()[static_cast<size_t>(img)]);
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        raw_.emplace(seq, std::move(raw));
      }
      cv_.notify_all();
    }
  } catch (...) {
    fail(std::current_exception());
  }
}

void PrefetchLoader::decode_main() {
  try {
    const bool pin = opt_.device.is_cuda();
    for (;;) {
      int64_t seq;
      Raw raw;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !raw_.empty(); });
        if (stop_) return;
        auto it = raw_.begin();
        seq = it->first;
        raw = std::move(it->second);
        raw_.erase(it);
      }
      const auto n = static_cast<int64_t>(raw.slots.size());
      Batch b;
      b.images = torch::empty({n, info_.channels, info_.height, info_.width},
                              torch::TensorOptions().dtype(torch::kFloat).pinned_memory(pin));
      b.indices = torch::empty({n}, torch::kLong);
      float* dst = b.images.data_ptr<float>();
      int64_t* idx = b.indices.data_ptr<int64_t>();
      const int64_t bytes = info_.image_bytes();
      for (int64_t i = 0; i < n; ++i) {
        const auto draw = draw_augment(opt_.augment, raw.slots[i].aug_key);
        decode_image(raw.pixels.data() + i * bytes, info_.channels, info_.height, info_.width, draw, dst + i * bytes);
        idx[i] = raw.slots[i].image;
      }
      if (info_.has_labels) b.labels = torch::tensor(raw.labels, torch::kLong);
      b.next = raw.next;
      b.epoch = raw.epoch;
      {
        std::lock_guard<std::mutex> lk(mu_);
        ready_.emplace(seq, std::move(b));
      }
      cv_.notify_all();
    }
  } catch (...) {
    fail(std::current_exception());
  }
}

Batch PrefetchLoader::next() {
  const auto t0 = std::chrono::steady_clock::now();
  Batch b;
  {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return error_ || ready_.count(consumed_) > 0; });
    if (error_) std::rethrow_exception(error_);
    auto it = ready_.find(consumed_);
    b = std::move(it->second);
    ready_.erase(it);
    ++consumed_;
  }
  cv_.notify_all();
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (opt_.device.is_cuda()) {
    b.images = b.images.to(opt_.device, /*non_blocking=*/true);
    if (b.labels.defined()) b.labels = b.labels.to(opt_.device, /*non_blocking=*/true);
  }
  consumed_state_ = b.next;
  return b;
}

}  // namespace gantry::data

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "data/data_error.h"
#include "data/dataset_writer.h"
#include "data/h5_image_file.h"
#include "data/image_decode.h"
#include "common/signals.h"
#include "data/packers.h"
#include "data/progress_meter.h"

namespace gantry::data {

namespace {
int resolve_threads(int threads) { return threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()); }
}  // namespace

PackResult pack_images(const PackImagesOptions& o) {
  if (o.size <= 0) throw std::invalid_argument("--size must be positive");
  if (o.channels != 1 && o.channels != 3) throw std::invalid_argument("--channels must be 1 or 3");
  const auto files = list_images(o.dir);
  const auto n = static_cast<int64_t>(files.size());

  WriterOptions wo;
  wo.channels = o.channels;
  wo.height = wo.width = o.size;
  wo.images_per_chunk = o.output.images_per_chunk;
  wo.gzip_level = o.output.gzip_level;
  wo.overwrite = o.output.force;
  wo.source = "images: " + o.dir;
  wo.creation_command = o.output.command;
  DatasetWriter writer(o.output.out, wo);

  // Decode a block of files in parallel (HDF5 stays on this thread), then
  // append the block's good images in file order.
  const int threads = resolve_threads(o.threads);
  const int64_t image_bytes = int64_t{o.channels} * o.size * o.size;
  const int64_t block = std::max<int64_t>(64, 8 * threads);
  std::vector<uint8_t> pixels(static_cast<size_t>(block * image_bytes));
  std::vector<std::string> errors(static_cast<size_t>(block));
  PackResult result;
  ProgressMeter meter("pack images", n);

  for (int64_t start = 0; start < n; start += block) {
    const int64_t m = std::min(block, n - start);
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t i; (i = next.fetch_add(1)) < m && !interrupt_requested();) {
        errors[i].clear();
        try {
          load_square_image(files[start + i], o.size, o.channels, pixels.data() + i * image_bytes);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
    };
    {
      std::vector<std::jthread> pool;
      for (int t = 1; t < std::min<int64_t>(threads, m); ++t) pool.emplace_back(work);
      work();
    }
    if (interrupt_requested()) throw Interrupted("interrupted; removed the partial " + o.output.out);
    for (int64_t i = 0; i < m;) {  // append runs of good images
      if (!errors[i].empty()) {
        if (!o.skip_bad) throw DataError(errors[i] + " (pass --skip-bad to skip such files)");
        result.skipped.push_back(errors[i]);
        ++i;
        continue;
      }
      int64_t j = i;
      while (j < m && errors[j].empty()) ++j;
      writer.append(pixels.data() + i * image_bytes, j - i);
      i = j;
    }
    if (o.output.progress) meter.update(start + m);
  }
  if (writer.count() == 0) throw DataError(o.dir + ": no image could be decoded");
  writer.commit();
  if (o.output.progress) meter.finish(n);
  for (const auto& s : result.skipped) std::fprintf(stderr, "skipped: %s\n", s.c_str());
  if (!result.skipped.empty())
    std::fprintf(stderr, "pack images: skipped %zu of %lld files\n", result.skipped.size(), (long long)n);
  result.info = inspect_dataset(o.output.out);
  result.seconds = meter.elapsed_s();
  return result;
}

}  // namespace gantry::data

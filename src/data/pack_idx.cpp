#include <algorithm>

#include "data/data_error.h"
#include "data/dataset_writer.h"
#include "data/h5_image_file.h"
#include "data/idx_file.h"
#include "common/signals.h"
#include "data/packers.h"
#include "data/progress_meter.h"

namespace gantry::data {

PackResult pack_idx(const PackIdxOptions& o) {
  const IdxArray images = read_idx(o.images);
  if (images.dims.size() != 3) throw DataError(o.images + ": expected an idx3 image file (N x H x W)");
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  if (n == 0) throw DataError(o.images + ": holds no images");
  IdxArray labels;
  if (!o.labels.empty()) {
    labels = read_idx(o.labels);
    if (labels.dims.size() != 1) throw DataError(o.labels + ": expected an idx1 label file (N)");
    if (labels.dims[0] != n)
      throw DataError(o.labels + ": " + std::to_string(labels.dims[0]) + " labels for " + std::to_string(n) +
                      " images in " + o.images);
  }

  WriterOptions wo;
  wo.channels = 1;
  wo.height = h;
  wo.width = w;
  wo.images_per_chunk = o.output.images_per_chunk;
  wo.gzip_level = o.output.gzip_level;
  wo.with_labels = !o.labels.empty();
  wo.overwrite = o.output.force;
  wo.source = "idx: " + o.images + (o.labels.empty() ? "" : " + " + o.labels);
  wo.creation_command = o.output.command;
  DatasetWriter writer(o.output.out, wo);

  ProgressMeter meter("pack idx", n);
  const int64_t block = 4096, image_bytes = h * w;
  std::vector<int64_t> block_labels(block);
  for (int64_t start = 0; start < n; start += block) {
    if (interrupt_requested()) throw Interrupted("interrupted; removed the partial " + o.output.out);
    const int64_t m = std::min(block, n - start);
    if (!o.labels.empty())
      for (int64_t i = 0; i < m; ++i) block_labels[i] = labels.data[start + i];
    writer.append(images.data.data() + start * image_bytes, m, o.labels.empty() ? nullptr : block_labels.data());
    if (o.output.progress) meter.update(start + m);
  }
  writer.commit();
  if (o.output.progress) meter.finish(n);
  return {inspect_dataset(o.output.out), {}, meter.elapsed_s()};
}

}  // namespace gantry::data

// TensorBoard event files, written directly: TFRecord framing (length,
// masked CRC-32C of the length, the record, masked CRC-32C of the record) of
// tensorflow.Event protocol-buffer messages, hand-encoded for the few fields
// gantry uses (wall_time, step, file_version, summary.value{tag,
// simple_value | image{height, width, colorspace, encoded PNG}}). Read by
// TensorBoard itself (tested with the tensorboard package's EventAccumulator).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace gantry::train {

class TensorBoardWriter {
 public:
  // Creates dir/events.out.tfevents.<seconds>.<host>.gantry (appending a new file per process start).
  explicit TensorBoardWriter(const std::string& dir);
  void scalar(const std::string& tag, double value, int64_t step);
  // images: (N, C, H, W) in [−1, 1]: one grid image laid out as the PNG grids.
  void image_grid(const std::string& tag, const torch::Tensor& images, int64_t step);
  void flush() { out_.flush(); }
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event);
  std::string path_;
  std::ofstream out_;
};

// CRC-32C (Castagnoli, RFC 3720 polynomial 0x1EDC6F41, reflected), as TFRecord uses.
uint32_t crc32c(const void* data, size_t n);

}  // namespace gantry::train

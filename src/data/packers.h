// Building gantry HDF5 datasets: from idx files, from an image folder, or
// synthetic images of a given shape. Every packer writes through
// DatasetWriter (complete file or nothing), polls interrupt_requested()
// between blocks, and reports progress on stderr.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_format.h"

namespace gantry::data {

struct PackOutput {
  std::string out;               // the .h5 to write
  int64_t images_per_chunk = 1;  // chunk = this many whole images
  int gzip_level = 0;            // 0 = uncompressed
  bool force = false;            // replace an existing output
  bool progress = true;          // progress line on stderr
  std::string command;           // recorded as creation_command
};

struct PackIdxOptions {
  PackOutput output;
  std::string images;  // idx3 uint8 N×H×W (gz or plain)
  std::string labels;  // idx1 uint8 N, optional ("" = none)
};

struct PackImagesOptions {
  PackOutput output;
  std::string dir;
  int size = 0;           // R: output is R×R
  int channels = 3;       // 3 RGB or 1 gray
  int threads = 0;        // decoding threads; 0 = all cores
  bool skip_bad = false;  // skip undecodable files (listed at the end) instead of stopping
};

struct SynthOptions {
  PackOutput output;
  int64_t channels = 3, height = 256, width = 256;
  int64_t count = 0;
  uint64_t seed = 0;
  int threads = 0;  // 0 = all cores
};

struct PackResult {
  DatasetInfo info;                  // of the written file
  std::vector<std::string> skipped;  // "path: reason" for each skipped image
  double seconds = 0;
};

PackResult pack_idx(const PackIdxOptions& options);
PackResult pack_images(const PackImagesOptions& options);
PackResult synth_dataset(const SynthOptions& options);

// Synthetic image i of a synth dataset (CHW uint8), a pure function of
// (seed, i): smooth face-sized blobs on a gradient plus fine noise, so that it
// compresses and resizes like a photograph rather than like white noise.
void synth_image(uint64_t seed, int64_t index, int64_t channels, int64_t height, int64_t width, uint8_t* out);

}  // namespace gantry::data

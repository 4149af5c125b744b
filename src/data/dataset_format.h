// The gantry HDF5 dataset format, version 1 (documented in docs/DATA.md).
//
//   /images   uint8  N×C×H×W  chunked (default one image per chunk), optional gzip,
//                             Fletcher-32 per chunk (files written before 2026-11-30 lack it)
//   /labels   int64  N        optional, Fletcher-32 per chunk
//   HDF5 1.10 file format (checksummed metadata); older files in the 1.8 format still read
//   attributes on the root group:
//     gantry_format_version  int64   1
//     source                 string  what was packed (idx files, image folder, synth)
//     resolution             int64   H (images are square unless synthesized otherwise)
//     height, width          int64
//     channels               int64   1 or 3
//     count                  int64   N
//     creation_command       string  the command line that wrote the file
// Plain arrays, standard filters only: readable by h5py and the HDF5 tools.
// The attributes, where present, must be of their type and agree with /images.
#pragma once
#include <cstdint>
#include <string>

namespace gantry::data {

inline constexpr int64_t kFormatVersion = 1;
inline constexpr const char* kImagesDataset = "images";
inline constexpr const char* kLabelsDataset = "labels";

struct DatasetInfo {
  std::string path;
  int64_t count = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  bool has_labels = false;
  int64_t format_version = 0;  // 0: no gantry attributes (a plain N×C×H×W uint8 array from another tool)
  std::string source;
  std::string creation_command;
  int64_t images_per_chunk = 0;  // 0: contiguous layout
  int gzip_level = -1;           // -1: not compressed
  bool checksummed = false;      // Fletcher-32 on every chunk (gantry writes it; HDF5 verifies each read)
  int64_t image_bytes() const { return channels * height * width; }
};

}  // namespace gantry::data

// Writes a dataset in the gantry HDF5 format (data/dataset_format.h) so that
// the output path only ever holds a complete file: everything goes to a hidden
// temporary file beside it, which commit() closes, fsyncs and renames into
// place. A writer destroyed without commit() (an error, an interrupt) removes
// the temporary file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/h5_util.h"

namespace gantry::data {

struct WriterOptions {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t images_per_chunk = 1;  // one image per chunk: a random read touches exactly one chunk
  int gzip_level = 0;            // 0: uncompressed; 1..9: deflate (a standard filter every HDF5 reader has)
  bool with_labels = false;
  bool overwrite = false;        // replace an existing output file (atomically, at commit)
  std::string source;            // what was packed
  std::string creation_command;  // the command line
};

class DatasetWriter {
 public:
  // Throws DataError if the output exists (and !overwrite) or cannot be created,
  // std::invalid_argument for bad options.
  DatasetWriter(std::filesystem::path out, WriterOptions options);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Appends n images (n·C·H·W bytes, NCHW) and, if the file has labels, n labels.
  void append(const uint8_t* images, int64_t n, const int64_t* labels = nullptr);
  int64_t count() const { return count_; }
  const std::filesystem::path& temp_path() const { return temp_; }

  // Writes the attributes, closes, fsyncs and renames into place. Throws if the
  // dataset is empty (an empty dataset is never a valid output).
  void commit();

 private:
  void extend_and_write(hid_t dset, int rank, const hsize_t* block, const void* data, hid_t mem_type);

  std::filesystem::path out_;
  std::filesystem::path temp_;
  WriterOptions opt_;
  h5::Id file_;
  h5::Id images_;
  h5::Id labels_;
  int64_t count_ = 0;
  bool committed_ = false;
};

// The command line of this process ("gantry pack images --dir ..."), for creation_command.
std::string command_line(int argc, char** argv);

}  // namespace gantry::data

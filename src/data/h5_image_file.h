// Read-only access to a packed image dataset. Opening validates everything a
// training job relies on and reports a bad file as one DataError line naming
// the file and the problem (missing, not HDF5, truncated, no such dataset,
// wrong dtype or rank, no images, mismatched labels, a newer format).
//
// Not thread-safe by itself: the prefetch loader keeps each file's HDF5 calls
// on its one reader thread (and all HDF5 calls hold h5::Lock). A libhdf5 crash
// on a damaged file becomes one line and exit 2 (h5_crash_guard.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_format.h"
#include "data/h5_crash_guard.h"
#include "data/h5_util.h"

namespace gantry::data {

struct OpenOptions {
  std::string dataset = kImagesDataset;
  // HDF5 file locking (on by default); turn off on NFS/Lustre, where fcntl
  // locks fail or hang (same effect as HDF5_USE_FILE_LOCKING=FALSE).
  bool file_locking = true;
  // Raw chunk cache per dataset: holds a whole multi-image chunk, so that
  // neighbouring reads from a compressed chunk do not decompress it again.
  size_t chunk_cache_bytes = size_t{64} << 20;
};

// Validates without keeping the file open (gantry inspect).
DatasetInfo inspect_dataset(const std::string& path, const OpenOptions& options = {});

class H5ImageFile {
 public:
  explicit H5ImageFile(const std::string& path, const OpenOptions& options = {});
  ~H5ImageFile();
  H5ImageFile(const H5ImageFile&) = delete;
  H5ImageFile& operator=(const H5ImageFile&) = delete;
  const DatasetInfo& info() const { return info_; }
  // Labels read at open (empty if the file has none).
  const std::vector<int64_t>& labels() const { return labels_; }

  // Image i (C·H·W bytes) into out.
  void read_image(int64_t i, uint8_t* out);
  // Images [start, start+n) into out.
  void read_range(int64_t start, int64_t n, uint8_t* out);

 private:
  // Both under h5::Lock and an h5::CrashGuard (h5_crash_guard.h).
  void open(const OpenOptions& options);
  void close();
  [[noreturn]] void fail(const std::string& problem) const;
  void check_root_attributes(const std::vector<hsize_t>& dims);

  h5::CrashLines crash_lines_;
  DatasetInfo info_;
  h5::Id file_;
  h5::Id dset_;
  h5::Id file_space_;
  h5::Id image_space_;
  std::vector<int64_t> labels_;
};

}  // namespace gantry::data

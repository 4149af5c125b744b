// The HDF5 dataset reader on arbitrary file bytes, opened by path as training
// and `gantry inspect` open them (HDF5's default sec2 driver; the bytes live in
// a tmpfs file, not a memfd: fuzz_util.h says why): opening either fails with
// DataError or yields a shape whose first and last image (and all images of a
// small file) read or fail with DataError.
#include <cstdlib>
#include <vector>

#include "data/data_error.h"
#include "data/h5_crash_guard.h"
#include "data/h5_image_file.h"
#include "fuzz_util.h"

// A libhdf5 crash must reach ASan's handler (a report with its stack), not
// gantry's one-line exit: the fuzzer is here to find them.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gantry::data::h5::set_crash_guard_enabled(false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gantry::fuzz::TmpfsFile input_file;
  gantry::data::OpenOptions options;
  options.file_locking = false;
  options.chunk_cache_bytes = size_t{1} << 20;
  try {
    gantry::data::H5ImageFile file(input_file.write(data, size), options);
    const auto& info = file.info();
    if (info.count <= 0 || info.image_bytes() <= 0) std::abort();
    // A legal but large image (a damaged shape in a chunked file reads as fill values): reading it proves no more
    // than a small one, and would slow every such input down to a few execs/s.
    if (info.image_bytes() > (int64_t{1} << 20)) return 0;
    std::vector<uint8_t> image(static_cast<size_t>(info.image_bytes()));
    file.read_image(0, image.data());
    file.read_image(info.count - 1, image.data());
    if (info.count <= 256 && info.count * info.image_bytes() <= (int64_t{1} << 20)) {
      std::vector<uint8_t> all(static_cast<size_t>(info.count * info.image_bytes()));
      file.read_range(0, info.count, all.data());
    }
  } catch (const gantry::data::DataError&) {
  }
  return 0;
}

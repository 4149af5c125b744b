// The idx reader (gzip or plain) on arbitrary bytes: it returns an array whose
// size its header declares, or throws DataError; nothing else (no crash, no
// other exception, no allocation sized by the header alone).
#include <cstdlib>

#include "data/data_error.h"
#include "data/idx_file.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gantry::fuzz::MemoryFile file;
  try {
    const auto a = gantry::data::read_idx(file.write(data, size));
    size_t total = 1;
    for (const auto d : a.dims) total *= d;
    if (a.dims.empty() || a.data.size() != total) std::abort();  // the header's promise
  } catch (const gantry::data::DataError&) {
  }
  return 0;
}

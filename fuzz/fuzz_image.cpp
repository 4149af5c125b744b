// Image decode + centre crop + resize on arbitrary bytes (the first byte picks
// the output size and channels): writes exactly C·R·R bytes or throws
// DataError; nothing else.
#include <cstdlib>
#include <vector>

#include "data/data_error.h"
#include "data/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int side = 1 + data[0] % 64, channels = (data[0] & 0x40) ? 3 : 1;
  std::vector<uint8_t> out(static_cast<size_t>(channels) * side * side + 1, 0xa5);
  try {
    gantry::data::decode_square_image(data + 1, size - 1, "fuzz", side, channels, out.data());
  } catch (const gantry::data::DataError&) {
  }
  if (out.back() != 0xa5) std::abort();  // wrote past C·R·R
  return 0;
}

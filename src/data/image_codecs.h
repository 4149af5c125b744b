// PNG (libpng) and JPEG (libjpeg-turbo) decoding from memory into 8-bit
// interleaved pixels, with damage refused rather than decoded around:
//   PNG: every chunk's CRC-32 must match (checked here for all chunks, critical
//        and ancillary), the zlib stream must be whole, the file must reach IEND.
//   JPEG: libjpeg's corrupt-data warnings (premature end of file, extraneous
//        bytes, bad Huffman codes, ...) are errors.
// Both refuse images of more than kMaxImagePixels from the header, before
// allocating. Both decoders are maintained, fuzzed libraries (OSS-Fuzz); gantry
// used stb_image before, whose JPEG decoder read out of bounds on inputs the
// fuzzer found in seconds (fuzz/regressions/image).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gantry::data {

inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;  // 8192 x 8192

struct DecodedImage {
  int width = 0, height = 0, channels = 0;  // channels: 1 or 3
  std::vector<uint8_t> pixels;              // height x width x channels
};

// 16-bit samples keep their high byte; palettes and low bit depths expand;
// alpha is dropped (not composited). channels 3: gray is replicated;
// channels 1: PNG colour becomes (77 R + 150 G + 29 B) >> 8, a colour JPEG its
// luma Y as decoded. Throws DataError "<name>: ..." for anything else.
DecodedImage decode_png(const uint8_t* bytes, size_t n, const std::string& name, int channels);
DecodedImage decode_jpeg(const uint8_t* bytes, size_t n, const std::string& name, int channels);

}  // namespace gantry::data

// MNIST / Fashion-MNIST idx files (http://yann.lecun.com/exdb/mnist/ format):
// big-endian header {0, 0, type, ndim}, ndim big-endian uint32 sizes, then the
// data. Only unsigned-byte data (type 0x08) is accepted; gzipped or plain.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gantry::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Throws DataError naming the file: missing, not idx, not uint8, truncated, trailing bytes.
IdxArray read_idx(const std::string& path);

}  // namespace gantry::data

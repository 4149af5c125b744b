#include "data/idx_file.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "data/data_error.h"

namespace gantry::data {

IdxArray read_idx(const std::string& path) {
  auto fail = [&](const std::string& problem) { return DataError(path + ": " + problem); };
  if (!std::filesystem::exists(path)) throw fail("no such file");
  // gzread reads gzip and plain files alike.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw fail("cannot open");
  auto read_exact = [&](void* buf, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(f.get(), static_cast<char*>(buf) + done, chunk);
      if (got < 0) {
        int err = 0;
        std::string why = gzerror(f.get(), &err);
        if (why.rfind(path + ": ", 0) == 0) why.erase(0, path.size() + 2);  // zlib prefixes the path
        throw fail("corrupt gzip stream: " + why);
      }
      if (got == 0) return false;
      done += static_cast<size_t>(got);
    }
    return true;
  };
  uint8_t magic[4];
  if (!read_exact(magic, 4)) throw fail("too short for an idx header");
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > 4) throw fail("not an idx file (bad magic)");
  if (magic[2] != 0x08) throw fail("idx data type is not unsigned byte (0x08)");
  IdxArray a;
  size_t total = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t be[4];
    if (!read_exact(be, 4)) throw fail("truncated idx header");
    const uint32_t n = (uint32_t(be[0]) << 24) | (uint32_t(be[1]) << 16) | (uint32_t(be[2]) << 8) | be[3];
    a.dims.push_back(n);
    total *= n;
    if (total > (size_t{1} << 40)) throw fail("idx dimensions are implausibly large");
  }
  // Grown as the data arrive: a header can declare a terabyte in 16 bytes.
  constexpr size_t kBlock = size_t{64} << 20;
  for (size_t have = 0; have < total;) {
    const size_t n = std::min(kBlock, total - have);
    a.data.resize(have + n);
    if (!read_exact(a.data.data() + have, n)) throw fail("truncated: fewer data bytes than its header declares");
    have += n;
  }
  uint8_t extra;
  if (read_exact(&extra, 1)) throw fail("trailing bytes after the data its header declares");
  return a;
}

}  // namespace gantry::data

// Atomic file replacement: write a hidden sibling ".NAME.partial", fsync it,
// rename it over NAME, fsync the directory. A reader sees the old file or the
// new one, never a torn one, and a crash leaves at most a stray .partial.
// Used for checkpoints, datasets, FID statistics, sample PNGs, exports.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

namespace gantry {

// fsync a file or directory (a rename is durable only once both are synced).
inline void fsync_path(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

inline std::filesystem::path partial_path(const std::filesystem::path& target) {
  std::string name = ".";
  name += target.filename().string();
  name += ".partial";
  return target.parent_path() / name;
}

// `write` fills the temp path it is given; an exception from it removes the temp file and propagates.
inline void write_atomically(const std::filesystem::path& target,
                             const std::function<void(const std::filesystem::path& temp)>& write) {
  namespace fs = std::filesystem;
  const fs::path temp = partial_path(target);
  try {
    write(temp);
    fsync_path(temp);
    std::error_code ec;
    fs::rename(temp, target, ec);
    if (ec) throw std::runtime_error("cannot rename " + temp.string() + " to " + target.string() + ": " + ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  fsync_path(target.has_parent_path() ? target.parent_path() : fs::path("."));
}

// Byte chunks written in order.
inline void write_bytes_atomically(const std::filesystem::path& target,
                                   std::initializer_list<std::string_view> chunks) {
  write_atomically(target, [&](const std::filesystem::path& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    for (auto c : chunks) out.write(c.data(), static_cast<std::streamsize>(c.size()));
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + temp.string());
  });
}

}  // namespace gantry

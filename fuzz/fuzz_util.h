// What the fuzz targets share: an in-memory file (memfd) whose /proc path the
// readers that take a path open, so that no fuzz input touches the disk.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace gantry::fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("gantry-fuzz", 0)) {
    if (fd_ < 0) std::abort();
  }
  ~MemoryFile() { close(fd_); }
  // Replaces the file's bytes; returns a path that opens them.
  std::string write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    for (size_t done = 0; done < size;) {
      const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

}  // namespace gantry::fuzz

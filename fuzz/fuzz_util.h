// What the fuzz targets share: an in-memory file whose path the readers that
// take a path open, so that no fuzz input touches the disk.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace gantry::fuzz {

// Replaces the file's bytes with data[0, size).
inline void overwrite(int fd, const uint8_t* data, size_t size) {
  if (ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
}

// A memfd, opened as /proc/self/fd/N.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("gantry-fuzz", 0)) {
    if (fd_ < 0) std::abort();
  }
  ~MemoryFile() { close(fd_); }
  // Replaces the file's bytes; returns a path that opens them.
  std::string write(const uint8_t* data, size_t size) {
    overwrite(fd_, data, size);
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

// A file on tmpfs (/dev/shm, else $TMPDIR or /tmp), for readers that resolve
// the path they open: libhdf5 1.10 follows a symlink with realpath() before it
// opens the file, and a memfd's /proc/self/fd/N points at "/memfd:... (deleted)",
// which fails, so every input would stop inside H5Fopen.
class TmpfsFile {
 public:
  TmpfsFile() {
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmpdir && *tmpdir ? tmpdir : "/tmp";
    path_ = dir + "/gantry-fuzz-XXXXXX";
    fd_ = mkstemp(path_.data());
    if (fd_ < 0) std::abort();
  }
  ~TmpfsFile() {
    close(fd_);
    unlink(path_.c_str());
  }
  // Replaces the file's bytes; returns its path.
  const std::string& write(const uint8_t* data, size_t size) {
    overwrite(fd_, data, size);
    return path_;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace gantry::fuzz

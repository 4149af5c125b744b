// Helpers for the data tests: a temporary directory per test and small
// hand-built HDF5 files (including malformed ones) written with the HDF5 C API.
#pragma once
#include <hdf5.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace gantry::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gantry-data-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes dataset `name` of the given HDF5 type and shape (contiguous, zero-filled
// unless data is given) into a new file.
inline void write_raw_h5(const std::string& path, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                         const void* data = nullptr) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t s = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(f, name.c_str(), type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  size_t n = 1;
  for (auto x : dims) n *= x;
  std::vector<uint8_t> zeros(n * H5Tget_size(type), 0);
  if (n > 0) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data ? data : zeros.data());
  H5Dclose(d);
  H5Sclose(s);
  H5Fclose(f);
}

}  // namespace gantry::test

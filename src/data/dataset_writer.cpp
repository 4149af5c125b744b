#include "data/dataset_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <system_error>

#include "common/atomic_file.h"
#include "data/data_error.h"
#include "data/dataset_format.h"

namespace gantry::data {

namespace fs = std::filesystem;

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}

DatasetWriter::DatasetWriter(fs::path out, WriterOptions options) : out_(std::move(out)), opt_(std::move(options)) {
  if (opt_.channels <= 0 || opt_.height <= 0 || opt_.width <= 0)
    throw std::invalid_argument("dataset shape must be positive");
  if (opt_.images_per_chunk <= 0) throw std::invalid_argument("images per chunk must be positive");
  if (opt_.gzip_level < 0 || opt_.gzip_level > 9) throw std::invalid_argument("gzip level must be 0..9");
  if (!opt_.overwrite && fs::exists(out_))
    throw DataError(out_.string() + ": already exists (pass --force to replace it)");
  const fs::path dir = out_.has_parent_path() ? out_.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) throw DataError(out_.string() + ": directory " + dir.string() + " does not exist");
  std::string hidden = ".";
  hidden += out_.filename().string();
  hidden += ".partial-";
  hidden += std::to_string(::getpid());
  temp_ = dir / hidden;

  h5::Lock lock;
  // The HDF5 1.10 file format checksums its metadata (superblock, object headers, the
  // chunk index); with Fletcher-32 on every chunk below, no stored byte is unchecked.
  h5::Id fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
  file_ = h5::file(H5Fcreate(temp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!file_.valid()) throw DataError(out_.string() + ": cannot create " + temp_.string() + ": " + h5::last_error());

  const hsize_t dims[4] = {0, hsize_t(opt_.channels), hsize_t(opt_.height), hsize_t(opt_.width)};
  const hsize_t maxdims[4] = {H5S_UNLIMITED, dims[1], dims[2], dims[3]};
  const hsize_t chunk[4] = {hsize_t(opt_.images_per_chunk), dims[1], dims[2], dims[3]};
  h5::Id space = h5::space(H5Screate_simple(4, dims, maxdims));
  h5::Id dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.get(), 4, chunk);
  if (opt_.gzip_level > 0) {
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) throw std::runtime_error("this libhdf5 has no deflate filter");
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(opt_.gzip_level));
  }
  H5Pset_fletcher32(dcpl.get());  // after deflate: the checksum covers the bytes as stored
  images_ = h5::dataset(
      H5Dcreate2(file_.get(), kImagesDataset, H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!images_.valid()) throw std::runtime_error(temp_.string() + ": cannot create dataset: " + h5::last_error());

  if (opt_.with_labels) {
    const hsize_t ldims[1] = {0}, lmax[1] = {H5S_UNLIMITED}, lchunk[1] = {4096};
    h5::Id lspace = h5::space(H5Screate_simple(1, ldims, lmax));
    h5::Id lcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(lcpl.get(), 1, lchunk);
    H5Pset_fletcher32(lcpl.get());
    labels_ = h5::dataset(
        H5Dcreate2(file_.get(), kLabelsDataset, H5T_STD_I64LE, lspace.get(), H5P_DEFAULT, lcpl.get(), H5P_DEFAULT));
    if (!labels_.valid()) throw std::runtime_error(temp_.string() + ": cannot create labels: " + h5::last_error());
  }
}

DatasetWriter::~DatasetWriter() {
  if (committed_) return;
  {
    h5::Lock lock;
    labels_.reset();
    images_.reset();
    file_.reset();
  }
  std::error_code ec;
  fs::remove(temp_, ec);
}

void DatasetWriter::extend_and_write(hid_t dset, int rank, const hsize_t* block, const void* data, hid_t mem_type) {
  hsize_t new_dims[4] = {hsize_t(count_) + block[0], block[1], block[2], block[3]};
  if (H5Dset_extent(dset, new_dims) < 0)
    throw std::runtime_error(temp_.string() + ": cannot extend: " + h5::last_error());
  h5::Id fspace = h5::space(H5Dget_space(dset));
  hsize_t start[4] = {hsize_t(count_), 0, 0, 0};
  H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, block, nullptr);
  h5::Id mspace = h5::space(H5Screate_simple(rank, block, nullptr));
  if (H5Dwrite(dset, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data) < 0)
    throw std::runtime_error(temp_.string() + ": write failed: " + h5::last_error());
}

void DatasetWriter::append(const uint8_t* images, int64_t n, const int64_t* labels) {
  if (n <= 0) return;
  if (committed_) throw std::logic_error("DatasetWriter::append after commit");
  if (opt_.with_labels && !labels) throw std::logic_error("DatasetWriter::append: labels missing");
  h5::Lock lock;
  const hsize_t block[4] = {hsize_t(n), hsize_t(opt_.channels), hsize_t(opt_.height), hsize_t(opt_.width)};
  extend_and_write(images_.get(), 4, block, images, H5T_NATIVE_UINT8);
  if (opt_.with_labels) {
    const hsize_t lblock[4] = {hsize_t(n), 1, 1, 1};
    extend_and_write(labels_.get(), 1, lblock, labels, H5T_NATIVE_INT64);
  }
  count_ += n;
}

void DatasetWriter::commit() {
  if (committed_) return;
  if (count_ == 0) throw DataError(out_.string() + ": no images to write");
  {
    h5::Lock lock;
    const hid_t root = file_.get();
    h5::write_attr(root, "gantry_format_version", kFormatVersion);
    h5::write_attr(root, "source", opt_.source);
    h5::write_attr(root, "resolution", opt_.height);
    h5::write_attr(root, "height", opt_.height);
    h5::write_attr(root, "width", opt_.width);
    h5::write_attr(root, "channels", opt_.channels);
    h5::write_attr(root, "count", count_);
    h5::write_attr(root, "creation_command", opt_.creation_command);
    labels_.reset();
    images_.reset();
    if (!file_.reset()) throw std::runtime_error(temp_.string() + ": closing failed: " + h5::last_error());
  }
  fsync_path(temp_);
  std::error_code ec;
  fs::rename(temp_, out_, ec);
  if (ec) throw std::runtime_error("cannot rename " + temp_.string() + " to " + out_.string() + ": " + ec.message());
  fsync_path(out_.has_parent_path() ? out_.parent_path() : fs::path("."));
  committed_ = true;
}

}  // namespace gantry::data

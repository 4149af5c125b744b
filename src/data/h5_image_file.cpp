#include "data/h5_image_file.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include "data/data_error.h"

namespace gantry::data {

namespace fs = std::filesystem;

namespace {

// 2^50 bytes (1 PiB) of images and 2^31 labels (16 GiB of int64): far above any dataset one job trains on,
// far below where an int64 byte count overflows.
constexpr uint64_t kMaxDatasetBytes = uint64_t{1} << 50;
constexpr hsize_t kMaxLabels = hsize_t{1} << 31;

std::string type_name(hid_t t) {
  const size_t bytes = H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(8 * bytes);
    case H5T_FLOAT:
      return "float" + std::to_string(8 * bytes);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    default:
      return "a non-numeric type";
  }
}

std::string shape_string(const std::vector<hsize_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s.empty() ? "scalar" : s;
}

}  // namespace

DatasetInfo inspect_dataset(const std::string& path, const OpenOptions& options) {
  return H5ImageFile(path, options).info();
}

void H5ImageFile::fail(const std::string& problem) const { throw DataError(info_.path + ": " + problem); }

H5ImageFile::H5ImageFile(const std::string& path, const OpenOptions& options) : crash_lines_(path) {
  info_.path = path;
  h5::Lock lock;
  const h5::CrashGuard guard(crash_lines_);
  try {
    open(options);
  } catch (...) {
    close();  // inside the guard: libhdf5 may crash closing a damaged file too
    throw;
  }
}

H5ImageFile::~H5ImageFile() {
  h5::Lock lock;
  const h5::CrashGuard guard(crash_lines_);
  close();
}

void H5ImageFile::close() {
  image_space_.reset();
  file_space_.reset();
  dset_.reset();
  file_.reset();
}

void H5ImageFile::open(const OpenOptions& options) {
  const std::string& path = info_.path;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("no such file");
  if (fs::is_directory(path, ec)) fail("is a directory, not an HDF5 file");
  if (!fs::is_regular_file(path, ec)) fail("is not a regular file");
  if (!std::ifstream(path, std::ios::binary).good()) fail("cannot be read (permission denied?)");

  if (H5Fis_hdf5(path.c_str()) <= 0) fail("not an HDF5 file");
  h5::Id fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS));
#if H5_VERSION_GE(1, 10, 7)
  H5Pset_file_locking(fapl.get(), options.file_locking, /*ignore_when_disabled=*/true);
#endif
  file_ = h5::file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!file_.valid()) {
    const std::string why = h5::last_error();
    fail("cannot open as HDF5 (truncated or corrupt file)" + (why.empty() ? "" : ": " + why));
  }

  const std::string& name = options.dataset;
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) fail("has no dataset '" + name + "'");
  h5::Id dapl = h5::plist(H5Pcreate(H5P_DATASET_ACCESS));
  H5Pset_chunk_cache(dapl.get(), 521, options.chunk_cache_bytes, 1.0);
  dset_ = h5::dataset(H5Dopen2(file_.get(), name.c_str(), dapl.get()));
  if (!dset_.valid()) fail("'" + name + "' is not a dataset");

  h5::Id t = h5::type(H5Dget_type(dset_.get()));
  if (H5Tget_class(t.get()) != H5T_INTEGER || H5Tget_size(t.get()) != 1 || H5Tget_sign(t.get()) != H5T_SGN_NONE)
    fail("dataset '" + name + "' holds " + type_name(t.get()) + ", expected uint8 images");

  file_space_ = h5::space(H5Dget_space(dset_.get()));
  const int rank = H5Sget_simple_extent_ndims(file_space_.get());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(file_space_.get(), dims.data(), nullptr);
  if (rank != 4)
    fail("dataset '" + name + "' has rank " + std::to_string(rank) + " (shape " + shape_string(dims) +
         "), expected 4 (N x C x H x W)");
  if (dims[0] == 0) fail("dataset '" + name + "' holds no images (shape " + shape_string(dims) + ")");
  if (dims[1] < 1 || dims[1] > 4 || dims[2] == 0 || dims[3] == 0)
    fail("dataset '" + name + "' has shape " + shape_string(dims) + ", expected N x C x H x W with C in 1..4");
  // Every size downstream is an int64 byte count (image_bytes(), count · image_bytes in the in-memory loader):
  // a shape whose bytes do not fit comes from a damaged dataspace (fuzz/regressions/h5/), not from real images.
  uint64_t total_bytes = 1;
  bool overflows = false;
  for (const hsize_t d : dims) overflows |= __builtin_mul_overflow(total_bytes, uint64_t{d}, &total_bytes);
  if (overflows || total_bytes > kMaxDatasetBytes)
    fail("dataset '" + name + "' has shape " + shape_string(dims) +
         ", more bytes than any real dataset (a damaged file?)");
  info_.count = static_cast<int64_t>(dims[0]);
  info_.channels = static_cast<int64_t>(dims[1]);
  info_.height = static_cast<int64_t>(dims[2]);
  info_.width = static_cast<int64_t>(dims[3]);

  h5::Id dcpl = h5::plist(H5Dget_create_plist(dset_.get()));
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    hsize_t chunk[4];
    H5Pget_chunk(dcpl.get(), 4, chunk);
    info_.images_per_chunk = static_cast<int64_t>(chunk[0]);
  }
  for (int f = 0, nf = H5Pget_nfilters(dcpl.get()); f < nf; ++f) {
    unsigned flags = 0, cd[8];
    size_t ncd = 8;
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), f, &flags, &ncd, cd, 0, nullptr, nullptr);
    if (id == H5Z_FILTER_DEFLATE)
      info_.gzip_level = ncd > 0 ? static_cast<int>(cd[0]) : 6;
    else if (id == H5Z_FILTER_FLETCHER32)
      info_.checksummed = true;
    else if (H5Zfilter_avail(id) <= 0)
      fail("dataset '" + name + "' uses HDF5 filter " + std::to_string(id) +
           ", which this libhdf5 lacks (LZF and other h5py-only filters are not supported; repack with gzip)");
  }

  check_root_attributes(dims);
  const hid_t root = file_.get();

  if (H5Lexists(root, kLabelsDataset, H5P_DEFAULT) > 0) {
    h5::Id l = h5::dataset(H5Dopen2(root, kLabelsDataset, H5P_DEFAULT));
    h5::Id lt = h5::type(H5Dget_type(l.get()));
    h5::Id ls = h5::space(H5Dget_space(l.get()));
    const int lrank = H5Sget_simple_extent_ndims(ls.get());
    hsize_t ln = 0;
    if (lrank == 1) H5Sget_simple_extent_dims(ls.get(), &ln, nullptr);
    if (H5Tget_class(lt.get()) != H5T_INTEGER || lrank != 1 || ln != dims[0])
      fail("dataset 'labels' must be integers of shape " + std::to_string(dims[0]) + ", found " + type_name(lt.get()) +
           " of rank " + std::to_string(lrank));
    if (ln > kMaxLabels)
      fail("dataset 'labels' holds " + std::to_string(ln) + " labels, more than gantry keeps in memory (" +
           std::to_string(kMaxLabels) + ")");
    labels_.resize(ln);
    if (H5Dread(l.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels_.data()) < 0)
      fail("cannot read labels: " + h5::last_error());
    info_.has_labels = true;
  }

  const hsize_t one[4] = {1, dims[1], dims[2], dims[3]};
  image_space_ = h5::space(H5Screate_simple(4, one, nullptr));
}

// gantry's root attributes, where present (a plain array from another tool has
// none), must be of their type and agree with the images they describe.
void H5ImageFile::check_root_attributes(const std::vector<hsize_t>& dims) {
  const hid_t root = file_.get();
  auto int_attr = [&](const char* name) -> std::optional<int64_t> {
    int64_t v = 0;
    switch (h5::read_attr(root, name, v)) {
      case h5::AttrRead::missing:
        return std::nullopt;
      case h5::AttrRead::wrong_type:
        fail(std::string("root attribute '") + name + "' is not one integer");
      case h5::AttrRead::read:
        break;
    }
    return v;
  };
  auto string_attr = [&](const char* name, std::string& out) {
    if (h5::read_attr(root, name, out) == h5::AttrRead::wrong_type)
      fail(std::string("root attribute '") + name + "' is not one string");
  };
  if (const auto v = int_attr("gantry_format_version")) {
    if (*v < 1) fail("format version " + std::to_string(*v) + " is not a gantry format version");
    if (*v > kFormatVersion)
      fail("format version " + std::to_string(*v) + " is newer than this gantry reads (" +
           std::to_string(kFormatVersion) + ")");
    info_.format_version = *v;
  }
  const struct {
    const char* name;
    hsize_t actual;
    const char* what;
  } described[] = {{"count", dims[0], "images"},
                   {"channels", dims[1], "channels"},
                   {"height", dims[2], "rows"},
                   {"resolution", dims[2], "rows"},
                   {"width", dims[3], "columns"}};
  for (const auto& d : described)
    if (const auto v = int_attr(d.name); v && (*v < 0 || static_cast<hsize_t>(*v) != d.actual))
      fail(std::string("root attribute '") + d.name + "' says " + std::to_string(*v) + " but the images have " +
           std::to_string(d.actual) + " " + d.what + " (a damaged or hand-edited file?)");
  string_attr("source", info_.source);
  string_attr("creation_command", info_.creation_command);
}

void H5ImageFile::read_image(int64_t i, uint8_t* out) { read_range(i, 1, out); }

void H5ImageFile::read_range(int64_t start, int64_t n, uint8_t* out) {
  if (start < 0 || n < 0 || start + n > info_.count)
    throw std::out_of_range(info_.path + ": images [" + std::to_string(start) + ", " + std::to_string(start + n) +
                            ") outside 0.." + std::to_string(info_.count));
  if (n == 0) return;
  h5::Lock lock;
  const h5::CrashGuard guard(crash_lines_);
  const hsize_t offset[4] = {hsize_t(start), 0, 0, 0};
  const hsize_t count[4] = {hsize_t(n), hsize_t(info_.channels), hsize_t(info_.height), hsize_t(info_.width)};
  H5Sselect_hyperslab(file_space_.get(), H5S_SELECT_SET, offset, nullptr, count, nullptr);
  h5::Id mem;
  hid_t mspace = image_space_.get();
  if (n != 1) {
    mem = h5::space(H5Screate_simple(4, count, nullptr));
    mspace = mem.get();
  }
  if (H5Dread(dset_.get(), H5T_NATIVE_UINT8, mspace, file_space_.get(), H5P_DEFAULT, out) < 0)
    fail("reading images [" + std::to_string(start) + ", " + std::to_string(start + n) +
         ") failed (truncated or corrupt file?): " + h5::last_error());
}

}  // namespace gantry::data

#include "data/h5_util.h"

#include <stdexcept>
#include <vector>

namespace gantry::data::h5 {

namespace {
std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}

herr_t innermost(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err->desc) *static_cast<std::string*>(out) = err->desc;
  return 0;
}
}  // namespace

Lock::Lock() : lock_(hdf5_mutex()) {
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

std::string last_error() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &msg);
  return msg;
}

void write_attr(hid_t loc, const char* name, int64_t value) {
  Id sp = space(H5Screate(H5S_SCALAR));
  Id a = attr(H5Acreate2(loc, name, H5T_STD_I64LE, sp.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_INT64, &value) < 0)
    throw std::runtime_error(std::string("cannot write attribute ") + name + ": " + last_error());
}

void write_attr(hid_t loc, const char* name, const std::string& value) {
  // A fixed-length UTF-8 string: h5py reads it as str/bytes, h5dump prints it.
  Id t = type(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), value.empty() ? 1 : value.size());
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  Id sp = space(H5Screate(H5S_SCALAR));
  Id a = attr(H5Acreate2(loc, name, t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT));
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  if (!a.valid() || H5Awrite(a.get(), t.get(), buf.data()) < 0)
    throw std::runtime_error(std::string("cannot write attribute ") + name + ": " + last_error());
}

namespace {

// One element (a scalar or a 1-element array) of the given type class.
bool holds_one(const Id& a, const Id& t, H5T_class_t cls) {
  if (H5Tget_class(t.get()) != cls) return false;
  Id sp = space(H5Aget_space(a.get()));
  return H5Sget_simple_extent_npoints(sp.get()) == 1;
}

}  // namespace

AttrRead read_attr(hid_t loc, const char* name, int64_t& value) {
  if (H5Aexists(loc, name) <= 0) return AttrRead::missing;
  Id a = attr(H5Aopen(loc, name, H5P_DEFAULT));
  Id t = type(H5Aget_type(a.get()));
  if (!holds_one(a, t, H5T_INTEGER) || H5Aread(a.get(), H5T_NATIVE_INT64, &value) < 0) return AttrRead::wrong_type;
  return AttrRead::read;
}

AttrRead read_attr(hid_t loc, const char* name, std::string& value) {
  if (H5Aexists(loc, name) <= 0) return AttrRead::missing;
  Id a = attr(H5Aopen(loc, name, H5P_DEFAULT));
  Id t = type(H5Aget_type(a.get()));
  if (!holds_one(a, t, H5T_STRING)) return AttrRead::wrong_type;
  if (H5Tis_variable_str(t.get()) > 0) {  // as h5py writes str attributes
    char* p = nullptr;
    Id mem = type(H5Tcopy(t.get()));
    if (H5Aread(a.get(), mem.get(), &p) < 0) return AttrRead::wrong_type;
    value = p ? p : "";
    H5free_memory(p);
    return AttrRead::read;
  }
  const size_t size = H5Tget_size(t.get());
  std::vector<char> buf(size + 1, '\0');
  Id mem = type(H5Tcopy(t.get()));
  if (H5Aread(a.get(), mem.get(), buf.data()) < 0) return AttrRead::wrong_type;
  value.assign(buf.data());
  return AttrRead::read;
}

}  // namespace gantry::data::h5

// Small HDF5 helpers shared by the writer and the reader: an owning id, one
// process-wide lock (libhdf5 is only thread-safe when built so; gantry keeps its
// HDF5 calls on one thread per file and serialises them anyway), and the
// innermost message of HDF5's error stack for one-line errors.
#pragma once
#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace gantry::data::h5 {

// Hold while calling HDF5. Also turns off HDF5's own error printing for the
// calling thread (error stacks are per thread in thread-safe builds).
class Lock {
 public:
  Lock();

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

// The most specific message on the calling thread's HDF5 error stack ("" if none).
std::string last_error();

// An HDF5 identifier closed with the right H5?close when it goes out of scope.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false if closing failed (e.g. a flush error on a file).
  bool reset() {
    bool ok = true;
    if (id_ >= 0 && closer_) {
      Lock lock;  // closing is an HDF5 call too (recursive: fine under an outer Lock)
      ok = closer_(id_) >= 0;
    }
    id_ = H5I_INVALID_HID;
    return ok;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

inline Id file(hid_t id) { return {id, H5Fclose}; }
inline Id dataset(hid_t id) { return {id, H5Dclose}; }
inline Id space(hid_t id) { return {id, H5Sclose}; }
inline Id type(hid_t id) { return {id, H5Tclose}; }
inline Id plist(hid_t id) { return {id, H5Pclose}; }
inline Id attr(hid_t id) { return {id, H5Aclose}; }

// Attribute helpers on a location (file or object). A reader tells an absent
// attribute from one of another type or shape (a damaged or foreign file).
enum class AttrRead { missing, read, wrong_type };
void write_attr(hid_t loc, const char* name, int64_t value);
void write_attr(hid_t loc, const char* name, const std::string& value);
AttrRead read_attr(hid_t loc, const char* name, int64_t& value);      // one integer
AttrRead read_attr(hid_t loc, const char* name, std::string& value);  // one string

}  // namespace gantry::data::h5

#include "train/tensorboard_writer.h"

#include <stb_image_write.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "train/sample_grid.h"

namespace gantry::train {

namespace {

// Protocol-buffer wire format: varints, fixed 32/64-bit, length-delimited fields.
void varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
}
void tag(std::string& s, int field, int wire) { varint(s, (static_cast<uint64_t>(field) << 3) | wire); }
void field_varint(std::string& s, int field, uint64_t v) {
  tag(s, field, 0);
  varint(s, v);
}
void field_double(std::string& s, int field, double v) {
  tag(s, field, 1);
  char b[8];
  std::memcpy(b, &v, 8);
  s.append(b, 8);
}
void field_float(std::string& s, int field, float v) {
  tag(s, field, 5);
  char b[4];
  std::memcpy(b, &v, 4);
  s.append(b, 4);
}
void field_bytes(std::string& s, int field, const std::string& v) {
  tag(s, field, 2);
  varint(s, v.size());
  s += v;
}

double now_s() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// Event{wall_time = 1, step = 2, summary = 5{value = 1{...}}}
std::string event_with_value(int64_t step, const std::string& value) {
  std::string summary, event;
  field_bytes(summary, 1, value);
  field_double(event, 1, now_s());
  field_varint(event, 2, static_cast<uint64_t>(step));
  field_bytes(event, 5, summary);
  return event;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void png_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected 0x1EDC6F41
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now_s())) + "." + host + ".gantry";
  out_.open(path_, std::ios::binary | std::ios::app);
  std::string first;
  field_double(first, 1, now_s());
  field_bytes(first, 3, "brain.Event:2");
  write_event(first);
}

void TensorBoardWriter::write_event(const std::string& e) {
  const uint64_t len = e.size();
  char header[12];
  std::memcpy(header, &len, 8);
  const uint32_t len_crc = masked(crc32c(header, 8));
  std::memcpy(header + 8, &len_crc, 4);
  const uint32_t data_crc = masked(crc32c(e.data(), e.size()));
  out_.write(header, 12);
  out_.write(e.data(), static_cast<std::streamsize>(e.size()));
  out_.write(reinterpret_cast<const char*>(&data_crc), 4);
}

void TensorBoardWriter::scalar(const std::string& name, double v, int64_t step) {
  std::string value;
  field_bytes(value, 1, name);
  field_float(value, 2, static_cast<float>(v));
  write_event(event_with_value(step, value));
}

void TensorBoardWriter::image_grid(const std::string& name, const torch::Tensor& images, int64_t step) {
  const auto hwc = grid_hwc_u8(images);  // the layout of the PNG grids
  const int gh = static_cast<int>(hwc.size(0)), gw = static_cast<int>(hwc.size(1)), gc = static_cast<int>(hwc.size(2));
  std::string png;
  stbi_write_png_to_func(png_to_string, &png, gw, gh, gc, hwc.data_ptr<uint8_t>(), gw * gc);
  std::string image, value;
  field_varint(image, 1, static_cast<uint64_t>(gh));
  field_varint(image, 2, static_cast<uint64_t>(gw));
  field_varint(image, 3, static_cast<uint64_t>(gc));  // 1 grayscale, 3 RGB
  field_bytes(image, 4, png);
  field_bytes(value, 1, name);
  field_bytes(value, 4, image);
  write_event(event_with_value(step, value));
}

}  // namespace gantry::train

#include "data/image_codecs.h"

// clang-format off
#include <cstdio>   // jpeglib.h needs FILE first
#include <jpeglib.h>
// clang-format on
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>

#include "data/data_error.h"

namespace gantry::data {

namespace {

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

bool fits(int64_t w, int64_t h) { return w > 0 && h > 0 && w * h <= kMaxImagePixels; }

[[noreturn]] void refuse_size(int64_t w, int64_t h, const std::string& name) {
  if (w <= 0 || h <= 0) throw DataError(name + ": image without pixels");
  throw DataError(name + ": image of " + std::to_string(w) + "x" + std::to_string(h) +
                  " pixels is larger than the packer takes (" + std::to_string(kMaxImagePixels >> 20) + " Mpx)");
}

// Every chunk's CRC-32 (PNG spec, 5.3): libpng itself only discards an
// ancillary chunk with a bad one, with a warning.
void verify_png_chunks(const uint8_t* bytes, size_t n, const std::string& name) {
  size_t at = 8;  // after the signature
  for (int index = 0;; ++index) {
    if (n - at < 12) throw DataError(name + ": PNG truncated (ends before its IEND chunk)");
    const uint32_t length = big_endian32(bytes + at);
    if (length > 0x7fffffffu || length > n - at - 12)
      throw DataError(name + ": PNG truncated or damaged (chunk " + std::to_string(index) + " runs past the end)");
    const uint8_t* type = bytes + at + 4;
    if (static_cast<uint32_t>(crc32(0, type, 4 + length)) != big_endian32(type + 4 + length))
      throw DataError(name + ": PNG chunk " + std::to_string(index) + " ('" + std::string(type, type + 4) +
                      "') fails its CRC (damaged file)");
    at += 12 + length;
    if (std::equal(type, type + 4, "IEND")) return;
  }
}

// libpng and libjpeg report errors by longjmp: everything with a destructor is
// made before setjmp, in the function that calls it (nothing is skipped by the
// jump), the message is kept in a plain buffer, and every exit after the
// decoder's creation destroys it first.
struct PngSource {
  const uint8_t* bytes;
  size_t size, at;
  char error[256];
};

void png_read_memory(png_structp png, png_bytep out, size_t length) {
  auto* s = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > s->size - s->at) png_error(png, "unexpected end of file");
  std::memcpy(out, s->bytes + s->at, length);
  s->at += length;
}

[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(s->error, sizeof s->error, "%s", message);
  png_longjmp(png, 1);
}

void png_warning_as_error(png_structp png, png_const_charp message) { png_fail(png, message); }

struct JpegErrors {
  jpeg_error_mgr manager;  // first: libjpeg passes a pointer to it
  std::jmp_buf jump;
  char error[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr info) {
  auto* e = reinterpret_cast<JpegErrors*>(info->err);
  info->err->format_message(info, e->error);
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr info, int level) {
  if (level < 0) jpeg_fail(info);  // a warning: corrupt data, which libjpeg would decode around
}

}  // namespace

DecodedImage decode_png(const uint8_t* bytes, size_t n, const std::string& name, int channels) {
  verify_png_chunks(bytes, n, name);
  DecodedImage image;
  std::vector<png_bytep> rows;
  PngSource source{bytes, n, 0, {}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_warning_as_error);
  if (!png) throw DataError(name + ": cannot start the PNG decoder");
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw DataError(name + ": cannot decode PNG (" + source.error + ")");
  }
  if (!info) png_error(png, "out of memory");
  png_set_read_fn(png, &source, png_read_memory);
  png_read_info(png, info);
  if (const int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info); !fits(w, h)) {
    png_destroy_read_struct(&png, &info, nullptr);
    refuse_size(w, h, name);
  }
  png_set_expand(png);       // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
  png_set_strip_16(png);     // 16-bit samples -> their high byte
  png_set_strip_alpha(png);  // dropped, not composited
  const bool color = png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR;
  if (channels == 3 && !color) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  image.width = static_cast<int>(png_get_image_width(png, info));
  image.height = static_cast<int>(png_get_image_height(png, info));
  image.channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != static_cast<size_t>(image.width) * image.channels) png_error(png, "unexpected row layout");
  image.pixels.resize(row_bytes * image.height);
  rows.resize(image.height);
  for (int y = 0; y < image.height; ++y) rows[y] = image.pixels.data() + y * row_bytes;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);  // the chunks after the pixels, to IEND
  png_destroy_read_struct(&png, &info, nullptr);
  if (channels == 1 && image.channels == 3) {  // the luma weights stb_image used (documented in image_decode.h)
    const size_t count = static_cast<size_t>(image.width) * image.height;
    for (size_t p = 0; p < count; ++p) {
      const uint8_t* rgb = image.pixels.data() + 3 * p;
      image.pixels[p] = static_cast<uint8_t>((77 * rgb[0] + 150 * rgb[1] + 29 * rgb[2]) >> 8);
    }
    image.pixels.resize(count);
    image.channels = 1;
  }
  return image;
}

DecodedImage decode_jpeg(const uint8_t* bytes, size_t n, const std::string& name, int channels) {
  DecodedImage image;
  jpeg_decompress_struct info{};  // zeroed: destroying it before create is then harmless
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    throw DataError(name + ": cannot decode JPEG (" + errors.error + ")");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes, static_cast<unsigned long>(n));
  jpeg_read_header(&info, TRUE);
  if (!fits(info.image_width, info.image_height)) {
    const int64_t w = info.image_width, h = info.image_height;
    jpeg_destroy_decompress(&info);
    refuse_size(w, h, name);
  }
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  image.width = static_cast<int>(info.output_width);
  image.height = static_cast<int>(info.output_height);
  image.channels = info.output_components;
  const size_t row_bytes = static_cast<size_t>(image.width) * image.channels;
  image.pixels.resize(row_bytes * image.height);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.pixels.data() + info.output_scanline * row_bytes;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);  // reads to the end-of-image marker
  jpeg_destroy_decompress(&info);
  return image;
}

}  // namespace gantry::data

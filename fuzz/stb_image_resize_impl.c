// stb_image_resize compiled here, instrumented, rather than taken from
// Debian's libstb.a: the fuzzer then sees (and sanitizes) the resizer too.
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>

// Lossless, integer-exact coding of the pixel bytes of one uncompressed image
// (PNM, BMP and the like): a blend of causal pixel predictors weighted by their
// recent local errors, context bias correction, and adaptive binary coding of
// the residuals through coder/bit_coder.h. docs/image-codec.md describes the
// model and the payload byte by byte.
// Depends on the standard library and coder/ only (tests/layering.sh).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

struct ImageLayout {
  std::uint32_t width = 0, height = 0;  // pixels, >= 1
  std::uint32_t channels = 0;           // 1..4, interleaved per pixel (grey, RGB, BGR, RGBA...)
  std::uint32_t bytes_per_sample = 1;   // 1 or 2
  bool big_endian = true;               // byte order of 2-byte samples (PNM: big-endian)
  // Bytes per row >= width*channels*bytes_per_sample; bytes past the samples
  // (BMP row padding) are kept exactly too.
  std::uint32_t row_bytes = 0;
};

// Limits of valid_image_layout.
constexpr std::uint32_t kMaxImageWidth = 1u << 16;
constexpr std::uint64_t kMaxImageBytes = std::uint64_t{16} << 20;

// Bytes the image occupies: row_bytes * height. Rows top to bottom as stored.
std::uint64_t image_bytes(const ImageLayout& layout);
// True for a layout the codec takes: width in [1, 2^16], height >= 1,
// channels 1..4, bytes_per_sample 1 or 2, row_bytes >= the samples of a row,
// image_bytes <= 16 MiB.
bool valid_image_layout(const ImageLayout& layout);
// The payload: a header (18 bytes: version, layout, coded length), then the coded pixels. Throws
// std::invalid_argument for an invalid layout.
std::vector<std::uint8_t> encode_image(const ImageLayout& layout, const std::uint8_t* data);
// Decodes a payload into out[0, out_size). True only if the payload is well
// formed, its layout valid, image_bytes(layout) == out_size, and the coded
// stream decodes without reading past its end; otherwise false with the reason
// in *why (out then holds unspecified bytes). Memory: O(width) besides out.
bool decode_image(const std::uint8_t* payload, std::size_t size, std::uint8_t* out, std::size_t out_size,
                  std::string* why = nullptr);

}  // namespace lmzip

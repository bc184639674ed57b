// Lossless, integer-exact coding of the sample bytes of one PCM stream (WAV,
// AIFF): samples are predicted by a cascade of adaptive integer filters and the
// residuals coded bit by bit with adaptive probabilities (coder/bit_coder.h).
// No floating point anywhere, so the payload is bit-identical on every CPU and
// with every compiler flag. docs/audio-codec.md describes the format.
// Depends on the standard library and coder/ only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

struct AudioLayout {
  std::uint32_t channels = 0;            // 1..8, interleaved per sample frame
  std::uint32_t bytes_per_sample = 2;    // 1, 2 or 3
  bool big_endian = false;               // byte order of multi-byte samples (WAV little, AIFF big)
  bool is_unsigned = false;              // samples stored with an offset of 2^(bits-1) (8-bit WAV)
  std::uint64_t frames = 0;              // sample frames, >= 1
};

// The largest sample data one payload codes.
constexpr std::uint64_t kMaxAudioBytes = std::uint64_t{16} << 20;

// Bytes the samples occupy: frames * channels * bytes_per_sample (saturates
// instead of wrapping on absurd layouts).
std::uint64_t audio_bytes(const AudioLayout& layout);
// channels 1..8, bytes_per_sample 1..3, frames >= 1, audio_bytes <= 16 MiB.
bool valid_audio_layout(const AudioLayout& layout);

// The payload: the layout (a few bytes, so the payload describes itself),
// then the range-coded samples. data holds audio_bytes(layout) bytes.
// Throws std::invalid_argument on an invalid layout.
std::vector<std::uint8_t> encode_audio(const AudioLayout& layout, const std::uint8_t* data);

// Decodes a payload into out[0, out_size). True only if the payload is well
// formed, its layout is valid, audio_bytes(layout) == out_size, and the coded
// stream decodes without reading past its end. Otherwise false with the
// reason in *why (out's contents are then unspecified). Never crashes, hangs
// or allocates more than a fixed amount on hostile input.
bool decode_audio(const std::uint8_t* payload, std::size_t size, std::uint8_t* out,
                  std::size_t out_size, std::string* why = nullptr);

// Reads the layout at the head of a payload; false if it is not a valid one.
bool peek_audio_layout(const std::uint8_t* payload, std::size_t size, AudioLayout* layout);

}  // namespace lmzip

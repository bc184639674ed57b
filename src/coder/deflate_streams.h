// Deflate recompression (as precomp does): finds the zlib, gzip and zip
// (method 8) streams of a buffer whose deflate bytes zlib's own deflate
// reproduces exactly, and swaps them for their inflated bytes, which context
// mixing codes far better; the inverse deflates them again with the recorded
// parameters. Mode 13's payload (docs/format.md "Inflated context-mixing
// chunks") is a table of the streams and the context-mixing payload of the
// swapped buffer.
// Depends on the standard library, zlib and coder/context_mixing.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

// Streams shorter than this (compressed) are left as bytes: the table entry
// would cost as much as inflating them saves. The decoder refuses shorter ones,
// which bounds the streams a chunk can declare (and the decoder's work).
constexpr std::uint32_t kMinDeflateStreamBytes = 64;

// A stream's deflate data (the raw deflate bytes, without a zlib or gzip
// header or trailer, which stay as bytes) and zlib's deflate parameters that
// reproduce it: deflateInit2(level, Z_DEFLATED, -window_bits, mem_level,
// Z_DEFAULT_STRATEGY), all input, Z_FINISH.
struct DeflateStream {
  std::size_t offset = 0;              // of the deflate data in the original buffer
  std::uint32_t compressed_size = 0;   // >= kMinDeflateStreamBytes
  std::uint32_t inflated_size = 0;     // >= 1
  std::uint8_t level = 0;              // 1..9
  std::uint8_t mem_level = 0;          // 1..9
  std::uint8_t window_bits = 0;        // 9..15
};

// A buffer with its reproducible streams inflated in place: `bytes` is the
// original with each stream's compressed bytes replaced by its inflated bytes,
// in order; `streams` are in offset order and do not overlap.
struct InflatedBuffer {
  std::vector<std::uint8_t> bytes;
  std::vector<DeflateStream> streams;
};

// Finds the streams of data[0, size) that zlib reproduces and inflates them,
// while bytes.size() stays at most max_bytes (streams beyond are left as
// bytes). The work is bounded by a budget proportional to size (inflating and
// trial deflates: most false candidates fail within a few bytes), so random
// data that merely looks like zlib headers costs little. Deterministic.
InflatedBuffer inflate_streams(const std::uint8_t* data, std::size_t size, std::size_t max_bytes);

// The inverse: rebuilds the original out[0, out_size) from inflated[0,
// inflated_size) and `streams` (as inflate_streams made them). False with
// the reason in *why where the sizes do not add up or a stream does not
// deflate to exactly its compressed_size bytes; never crashes on hostile input.
bool deflate_streams(const std::uint8_t* inflated, std::size_t inflated_size, const std::vector<DeflateStream>& streams,
                     std::uint8_t* out, std::size_t out_size, std::string* why);

// Mode 13's payload for the bytes whose streams inflate_streams found in
// `inflated`; empty where it holds none or more than kContextMixingMaxBytes.
std::vector<std::uint8_t> inflated_context_mixing_encode(const InflatedBuffer& inflated);

// What a mode-13 payload declares, read and checked against the chunk's
// original size before anything is allocated.
struct InflatedHeader {
  std::vector<DeflateStream> streams;
  std::size_t inflated_size = 0;  // of the swapped buffer, <= kContextMixingMaxBytes
  std::size_t header_size = 0;    // where the context-mixing payload starts
};
bool read_inflated_header(const std::uint8_t* payload, std::size_t payload_size, std::size_t original_size,
                          InflatedHeader* header, std::string* why);

// Memory that decoding a payload of this header takes (the swapped buffer and
// the context-mixing tables, deflate's state).
std::uint64_t inflated_context_mixing_bytes(std::size_t inflated_size);

// Decodes a mode-13 payload into out[0, original_size); false with the
// reason in *why for anything that does not add up.
bool inflated_context_mixing_decode(const std::uint8_t* payload, std::size_t payload_size, std::uint8_t* out,
                                    std::size_t original_size, std::string* why);

}  // namespace lmzip

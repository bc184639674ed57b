// Binary decisions through the range coder, for the adaptive models of image
// and audio chunks (src/media): each bit is coded with a 16-bit probability
// that its value is 1, so a bit costs -log2(p) as in RangeEncoder's tables of
// two symbols with total 2^16.
// Depends on the standard library and coder/range_coder.h.
#pragma once
#include <cstdint>
#include <vector>

#include "coder/range_coder.h"

namespace lmzip {

// A probability that a bit is 1, in 1/65536ths, kept inside [1, 65535] so that
// both values of the bit stay codable.
using BitProbability = std::uint32_t;
constexpr BitProbability kBitOne = 1u << 16;

constexpr BitProbability clamp_probability(std::int64_t p) {
  return static_cast<BitProbability>(p < 1 ? 1 : (p > kBitOne - 1 ? kBitOne - 1 : p));
}

class BitEncoder {
 public:
  explicit BitEncoder(std::vector<std::uint8_t>& out) : coder_(out) {}
  // p1: the probability that bit is 1, in [1, 65535] (clamp_probability).
  void encode(int bit, BitProbability p1) {
    if (bit) coder_.encode(0, p1, kBitOne);
    else coder_.encode(p1, kBitOne - p1, kBitOne);
  }
  // `count` low bits of value, high bit first, each with probability 1/2.
  void encode_plain(std::uint32_t value, int count) {
    for (int i = count - 1; i >= 0; --i) encode((value >> i) & 1, kBitOne / 2);
  }
  void finish() { coder_.finish(); }

 private:
  RangeEncoder coder_;
};

class BitDecoder {
 public:
  BitDecoder(const std::uint8_t* data, std::size_t size) : coder_(data, size) {}
  int decode(BitProbability p1) {
    const std::uint64_t target = coder_.target(kBitOne);
    if (target < p1) {
      coder_.consume(0, p1);
      return 1;
    }
    coder_.consume(p1, kBitOne - p1);
    return 0;
  }
  std::uint32_t decode_plain(int count) {
    std::uint32_t value = 0;
    for (int i = 0; i < count; ++i) value = (value << 1) | static_cast<std::uint32_t>(decode(kBitOne / 2));
    return value;
  }
  // True once the decoder read past its input (see RangeDecoder::overrun).
  bool overrun() const { return coder_.overrun(); }

 private:
  RangeDecoder coder_;
};

}  // namespace lmzip

// Integer-only range coder over frequency tables.
//
// A table gives each symbol s a frequency f(s) >= 1; cum(s) is the sum of the
// frequencies below s and total = cum(V). Totals up to kMaxTotal (2^32) are
// allowed. The coder keeps range in [2^48, 2^56], so range / total >= 2^16 and
// the loss from truncating that quotient is below 2^-16 of a bit per symbol
// (relative); with the few bytes of flush per stream, the output stays within
// 0.1% of the ideal length sum(-log2(f/total)).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip {

constexpr std::uint64_t kMaxTotal = std::uint64_t{1} << 32;
// A decoder of a well-formed stream reads at most this many bytes past its end
// (the zero bytes of the final flush that the encoder does not write).
constexpr std::size_t kFlushBytes = 7;

class RangeEncoder {
 public:
  explicit RangeEncoder(std::vector<std::uint8_t>& out);
  // Appends to out (what is already there is kept).
  // Requires 1 <= freq, cum + freq <= total <= kMaxTotal; throws
  // std::invalid_argument otherwise (a wrong table would silently lose data).
  void encode(std::uint64_t cum, std::uint64_t freq, std::uint64_t total);
  // Flushes the final bytes (at most one byte beyond those held back for a
  // carry; an empty stream writes nothing). No encode() after this.
  void finish();

 private:
  void shift_low();
  std::vector<std::uint8_t>& out_;
  std::uint64_t low_ = 0;
  std::uint64_t range_;
  std::uint8_t cache_ = 0;      // the last byte retired from low_ that a carry may still change
  std::uint64_t pending_ = 0;   // count of 0xFF bytes retired after cache_ (a carry turns them to 0x00)
  bool has_cache_ = false;      // false until the first byte is retired
  bool finished_ = false;
};

class RangeDecoder {
 public:
  // Reads past the end as zero bytes and records it in overrun(); corrupt or
  // truncated input decodes to wrong symbols, never to undefined behaviour.
  RangeDecoder(const std::uint8_t* data, std::size_t size);
  // Returns the target in [0, total); the symbol is the s with cum(s) <= target < cum(s+1).
  // Requires 1 <= total <= kMaxTotal (std::invalid_argument otherwise).
  std::uint64_t target(std::uint64_t total);
  // Removes the symbol found from target(); same total as that call. Throws
  // std::logic_error if [cum, cum + freq) does not hold the target (a caller bug).
  void consume(std::uint64_t cum, std::uint64_t freq);
  // True once more bytes were needed than the input has, beyond the (at most
  // kFlushBytes) zero bytes that the encoder leaves implicit at the end.
  bool overrun() const { return overrun_; }

 private:
  std::uint8_t next_byte();
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::uint64_t code_ = 0;
  std::uint64_t range_;
  std::uint64_t quotient_ = 1;  // range_ / total from the last target() call
  std::uint64_t total_ = 1;     // total from the last target() call, to check consume()
  std::uint64_t target_ = 0;    // the value target() returned
  bool overrun_ = false;
};

// cum must have room for n + 1 entries; returns the total.
std::uint64_t cumulative_frequencies(const std::uint32_t* freq, std::size_t n, std::uint64_t* cum);
// The symbol s with cum[s] <= target < cum[s+1] (binary search; cum has n + 1 entries,
// n >= 1). A target >= cum[n] gives n - 1, so the result is always a valid index.
std::size_t find_symbol(const std::uint64_t* cum, std::size_t n, std::uint64_t target);
// -log2(freq[symbol] / total), the ideal code length of one symbol in bits.
double ideal_bits(std::uint64_t freq, std::uint64_t total);

}  // namespace lmzip

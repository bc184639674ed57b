// A 64-bit range coder with byte-wise output and LZMA-style carry handling.
//
// The encoder keeps an interval [low, low + range) of a number written in
// base 256. Coding a symbol narrows the interval to the symbol's share:
//
//     r     = floor(range / total)      // >= 2^48 / 2^32 = 2^16
//     low  += r * cum
//     range = r * freq
//
// The part range - r * total (< total) is never used, which costs at most
// -log2(1 - total / range) <= -log2(1 - 2^-16) ~ 2.2e-5 bits per symbol.
//
// Invariants (encoder), between calls:
//   * 2^48 <= range <= 2^56: whenever range drops below 2^48 the top byte of
//     the 56-bit window is retired and everything shifts left by 8 bits.
//   * low < 2^57, and low + range <= 2^57: bit 56 of low is a carry that has
//     not yet reached the bytes already retired. Since every interval lies
//     inside the previous one, the carry is 0 or 1.
// A retired byte cannot be written at once: a later carry may still add 1 to
// it. The last retired byte waits in cache_, and a run of 0xFF bytes after it
// is only counted (pending_); a carry turns cache into cache + 1 and the run
// into 0x00 bytes, no carry writes them as they are. A byte below 0xFF
// arriving (or a carry) settles everything before it.
//
// The decoder mirrors the encoder with code = value - low, the offset of the
// coded number inside the current interval; it holds 0 <= code < range.
#include "coder/range_coder.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace lmzip {
namespace {

constexpr int kWindowBits = 56;
constexpr std::uint64_t kRangeTop = std::uint64_t{1} << kWindowBits;  // range <= kRangeTop
constexpr std::uint64_t kRangeBottom = std::uint64_t{1} << 48;        // range >= kRangeBottom
constexpr std::uint64_t kWindowMask = kRangeTop - 1;
constexpr std::uint64_t kTopByteFF = std::uint64_t{0xFF} << 48;  // window values whose top byte is 0xFF
static_assert(kRangeBottom / kMaxTotal >= (1u << 16), "range / total must keep 16 bits of precision");
static_assert(kWindowBits / 8 == kFlushBytes, "the decoder's window is the flush it may read past the end");

}  // namespace

RangeEncoder::RangeEncoder(std::vector<std::uint8_t>& out)
    : out_(out), range_(kRangeTop) {}

void RangeEncoder::encode(std::uint64_t cum, std::uint64_t freq, std::uint64_t total) {
  if (finished_) throw std::logic_error("RangeEncoder::encode after finish");
  if (freq == 0 || total > kMaxTotal || cum > total || freq > total - cum)
    throw std::invalid_argument("RangeEncoder::encode: need 1 <= freq, cum + freq <= total <= 2^32");
  const std::uint64_t r = range_ / total;  // >= 2^16
  low_ += r * cum;                         // low + range stays <= 2^57: the new interval is inside the old
  range_ = r * freq;                       // >= 2^16, so at most 4 shifts below
  while (range_ < kRangeBottom) {
    shift_low();
    range_ <<= 8;
  }
}

// Retires the top byte of the 56-bit window.
void RangeEncoder::shift_low() {
  if (low_ < kTopByteFF || low_ >= kRangeTop) {
    // Either no carry can reach the held bytes any more (top byte < 0xFF), or
    // the carry has arrived (bit 56): the held bytes are final.
    const auto carry = static_cast<std::uint8_t>(low_ >> kWindowBits);  // 0 or 1
    // Without a held byte there is nothing a carry could reach: the coded
    // number stays below 2^56 * 256^k, the first interval's end.
    if (has_cache_) out_.push_back(static_cast<std::uint8_t>(cache_ + carry));
    for (; pending_ > 0; --pending_) out_.push_back(static_cast<std::uint8_t>(0xFF + carry));
    cache_ = static_cast<std::uint8_t>(low_ >> 48);
    has_cache_ = true;
  } else {
    // Top byte 0xFF and no carry yet: a later carry would turn it into 0x00.
    ++pending_;
  }
  low_ = (low_ << 8) & kWindowMask;
}

void RangeEncoder::finish() {
  if (finished_) return;
  finished_ = true;
  // Any number in [low, low + range) decodes the same symbols. Pick one whose
  // 56-bit window is zero, if the interval holds one, else one whose window
  // is a single byte followed by zeros (the interval always holds one, as
  // range >= 2^48). The decoder reads the missing zero bytes past the end.
  std::uint64_t value = (low_ + kWindowMask) & ~kWindowMask;
  if (value - low_ >= range_) {
    const std::uint64_t step = kRangeBottom - 1;
    value = (low_ + step) & ~step;
  }
  const auto carry = static_cast<std::uint8_t>(value >> kWindowBits);
  const auto top_byte = static_cast<std::uint8_t>(value >> 48);
  if (has_cache_) out_.push_back(static_cast<std::uint8_t>(cache_ + carry));
  for (; pending_ > 0; --pending_) out_.push_back(static_cast<std::uint8_t>(0xFF + carry));
  if (top_byte != 0) out_.push_back(top_byte);
  has_cache_ = false;
}

RangeDecoder::RangeDecoder(const std::uint8_t* data, std::size_t size)
    : data_(data), size_(size), range_(kRangeTop) {
  // code starts as the first 7 bytes: the number minus the first interval's low (0).
  for (std::size_t i = 0; i < kFlushBytes; ++i) code_ = (code_ << 8) | next_byte();
}

std::uint8_t RangeDecoder::next_byte() {
  if (pos_ < size_) return data_[pos_++];
  // Past the end: zeros. A well-formed stream needs at most kFlushBytes of them.
  ++pos_;
  if (pos_ - size_ > kFlushBytes) overrun_ = true;
  return 0;
}

std::uint64_t RangeDecoder::target(std::uint64_t total) {
  if (total == 0 || total > kMaxTotal)
    throw std::invalid_argument("RangeDecoder::target: need 1 <= total <= 2^32");
  quotient_ = range_ / total;
  total_ = total;
  // For the encoder's streams code < r * total; corrupt input may go beyond
  // (into the unused tail of the range), so clamp to the last symbol.
  target_ = std::min(code_ / quotient_, total - 1);
  return target_;
}

void RangeDecoder::consume(std::uint64_t cum, std::uint64_t freq) {
  if (freq == 0 || cum > target_ || target_ - cum >= freq || freq > total_ - cum)
    throw std::logic_error("RangeDecoder::consume: [cum, cum + freq) must hold the target");
  code_ -= quotient_ * cum;  // cum <= target <= code / quotient: no wrap
  range_ = quotient_ * freq;
  // Only a clamped target (corrupt input) can leave code >= range; keep the
  // invariant code < range so that the arithmetic below never wraps.
  if (code_ >= range_) code_ = range_ - 1;
  while (range_ < kRangeBottom) {
    code_ = (code_ << 8) | next_byte();  // code < 2^48 before the shift: fits
    range_ <<= 8;
  }
}

std::uint64_t cumulative_frequencies(const std::uint32_t* freq, std::size_t n, std::uint64_t* cum) {
  cum[0] = 0;
  for (std::size_t s = 0; s < n; ++s) cum[s + 1] = cum[s] + freq[s];
  return cum[n];
}

std::size_t find_symbol(const std::uint64_t* cum, std::size_t n, std::uint64_t target) {
  if (n == 0) return 0;
  // First boundary above the target, among cum[1..n]; the symbol ends there.
  const std::uint64_t* above = std::upper_bound(cum + 1, cum + n + 1, target);
  return std::min(static_cast<std::size_t>(above - (cum + 1)), n - 1);
}

double ideal_bits(std::uint64_t freq, std::uint64_t total) {
  return std::log2(static_cast<double>(total)) - std::log2(static_cast<double>(freq));
}

}  // namespace lmzip

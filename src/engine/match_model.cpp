#include "engine/match_model.h"

#include <algorithm>

#include "coder/range_coder.h"

namespace lmzip {

namespace {

constexpr std::uint32_t kContextSymbols = 2;  // symbols hashed to find an earlier occurrence (2 of 1..6 measured best)
constexpr std::uint32_t kMaxVerify = 64;      // symbols compared backwards when a match is found
constexpr std::uint32_t kMaxRateCount = 255;  // the hit rates' slowest learning rate is 2/(2n+3)
constexpr std::uint32_t kPriorP16 = 40000;
constexpr std::uint32_t kPriorUpdates = 4;
constexpr std::uint32_t kMaxP16 = 65536 - 32;

int floor_log2(std::uint64_t x) {
  int r = 0;
  while (x >>= 1) ++r;
  return r;
}

}  // namespace

MatchModel::MatchModel(std::uint32_t symbol_count) {
  // At most 64 KiB a chunk, however many symbols a (hostile) chunk declares:
  // thousands of chunks may run at once. history_ grows only as symbols come.
  const int bits = std::clamp(floor_log2(std::max<std::uint32_t>(symbol_count, 1)), 10, 14);
  last_seen_.assign(std::size_t{1} << bits, 0);
  hash_shift_ = 32 - bits;
  // A prior that trusts longer matches more, worth as much as a few updates:
  // it saves learning each bucket from nothing in every chunk (measured 3%
  // smaller on paper1, progc, bib and alice29 than starting at 0).
  for (int l = 0; l < kLengthBuckets; ++l)
    for (int c = 0; c < kConfidenceBuckets; ++c)
      rates_[l * kConfidenceBuckets + c] = {kPriorP16 * (l + 1) / (l + 2), kPriorUpdates};
}

std::uint64_t MatchModel::boost(const SymbolRange& r) {
  bucket_ = -1;
  if (!predicts()) return 0;
  const int length_bucket = static_cast<int>(std::min<std::uint32_t>(length_, kLengthBuckets) - 1);
  const int confidence_bucket = std::min(kConfidenceBuckets - 1, floor_log2(r.total / r.freq));
  bucket_ = length_bucket * kConfidenceBuckets + confidence_bucket;
  const std::uint64_t q = std::min(rates_[bucket_].p16, kMaxP16);
  // Raise predicted()'s probability from freq/total to q: (freq + b) / (total + b) = q / 2^16.
  if (q * r.total <= (std::uint64_t{r.freq} << 16)) return 0;
  const std::uint64_t b = (q * r.total - (std::uint64_t{r.freq} << 16)) / ((std::uint64_t{1} << 16) - q);
  return std::min(b, kMaxTotal - r.total);
}

void MatchModel::update(std::uint32_t symbol) {
  if (bucket_ >= 0) {
    HitRate& h = rates_[bucket_];
    const std::int64_t target = predicted() == symbol ? 65536 : 0;
    h.p16 = static_cast<std::uint32_t>(h.p16 + (target - h.p16) * 2 / (2 * std::int64_t{h.n} + 3));
    h.n = std::min(h.n + 1, kMaxRateCount);
    bucket_ = -1;
  }
  if (predicts()) {
    if (predicted() == symbol) {
      ++pointer_;
      length_ = std::min(length_ + 1, 0xFFFFu);
    } else {
      length_ = 0;
    }
  }
  history_.push_back(symbol);
  const auto n = static_cast<std::uint32_t>(history_.size());
  if (n < kContextSymbols) return;
  const std::uint32_t* h = history_.data() + n;
  const std::uint32_t hash = (h[-1] * 0x9E3779B1u) ^ (h[-2] * 0x85EBCA6Bu);
  std::uint32_t& seen = last_seen_[hash >> hash_shift_];
  if (length_ == 0 && seen > 0) {
    // The symbols before an earlier position that match ours, counted backwards.
    const std::uint32_t candidate = seen - 1;
    std::uint32_t matched = 0;
    while (matched < kMaxVerify && matched < candidate && h[-1 - static_cast<std::ptrdiff_t>(matched)] ==
                                                               history_[candidate - 1 - matched])
      ++matched;
    if (matched > 0) {
      pointer_ = candidate;
      length_ = matched;
    }
  }
  seen = n + 1;
}

SymbolRange mix_range(const SymbolRange& r, std::uint32_t predicted, std::uint64_t boost) {
  SymbolRange m = r;
  m.total += boost;
  if (r.symbol == predicted) m.freq = static_cast<std::uint32_t>(r.freq + boost);
  if (r.symbol > predicted) m.below += boost;
  return m;
}

}  // namespace lmzip

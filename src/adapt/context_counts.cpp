#include "adapt/context_counts.h"

#include <algorithm>
#include <stdexcept>

#include "model/int_ops.h"

namespace lmzip {

namespace {

constexpr std::uint32_t kMaxCount = 255;  // then a context's counts halve (30 and 1000 measured no better)
constexpr std::uint32_t kInitialWeight = 16384;  // 0.25 of the network's total
constexpr std::uint32_t kMaxWeight = 4 << 16;    // keeps totals below 2^27 * (1 + 4 * orders) < 2^32
static_assert(ContextCounts::kMaxOrders * 4 + 1 <= 31, "mixed totals must stay below 2^32");
constexpr std::int64_t kMaxGradient = 1 << 18;
constexpr std::int64_t kRateDivisor = 16;        // weight step: the mean gradient / 16

using intops::floor_log2;

std::uint32_t count_of(std::uint32_t entry) { return entry & 0xFFFF; }
std::uint32_t symbol_of(std::uint32_t entry) { return entry >> 16; }

// Weight bucket: the context's total count (1, 2, 3, 4-5, 6-8, 9-15, 16-31,
// 32+) and whether one symbol or several followed it.
std::uint8_t weight_bucket(std::uint32_t total, bool one_symbol) {
  const int n = total <= 3 ? static_cast<int>(total) - 1 : total <= 5 ? 3 : total <= 8 ? 4 : total <= 15 ? 5 : total <= 31 ? 6 : 7;
  return static_cast<std::uint8_t>(n * 2 + (one_symbol ? 0 : 1));
}

// log2 of the buckets of order o + 1's table: 2^10..2^max_bits, about one a
// symbol: 64 bytes each for kNarrow (at most 32 MiB a frame), 128 for kWide
// (at most 96 MiB), 192 for kWideLarge (at most 481.5 MiB).
int table_bits(const ContextCounts::Shape& shape, int o, std::uint64_t frame_symbols) {
  return std::clamp(floor_log2(frame_symbols), 10, std::max(10, o == 0 ? shape.first_order_max_bits : shape.max_bits));
}

}  // namespace

std::size_t ContextCounts::table_bytes(const Shape& shape, std::uint64_t frame_symbols) {
  std::size_t bytes = 0;
  for (int o = 0; o < shape.orders; ++o)
    bytes += (std::size_t{1} << table_bits(shape, o, frame_symbols)) * (1 + shape.entries) * sizeof(std::uint32_t);
  return bytes;
}

ContextCounts::ContextCounts(const std::vector<Chunk>& chunks)
    : chunks_(chunks), recent_(chunks.size() * kMaxOrders, 0), seen_(chunks.size(), 0) {
  std::vector<std::uint64_t> frame_symbols;
  for (const Chunk& c : chunks_) {
    if (c.shape.orders == 0) continue;
    if (c.shape.orders > kMaxOrders || c.shape.entries < 1 || c.shape.entries > kMaxEntries ||
        c.shape.max_bits > kWideLarge.max_bits || c.shape.first_order_max_bits > kWideLarge.max_bits)
      throw std::invalid_argument("context counts: shape out of range");
    if (frame_symbols.size() <= c.frame) {
      frame_symbols.resize(c.frame + 1, 0);
      frames_.resize(c.frame + 1);
    }
    Frame& fr = frames_[c.frame];
    if (fr.shape.orders != 0 && !(fr.shape == c.shape))
      throw std::invalid_argument("context counts: a frame's chunks count in different shapes");
    fr.shape = c.shape;
    frame_symbols[c.frame] += c.symbol_count;
  }
  for (std::size_t f = 0; f < frame_symbols.size(); ++f) {
    if (frame_symbols[f] == 0) continue;
    Frame& fr = frames_[f];
    for (int o = 0; o < fr.shape.orders; ++o) {
      const int bits = table_bits(fr.shape, o, frame_symbols[f]);
      fr.table[o] = ZeroedArray<std::uint32_t>((std::size_t{1} << bits) * (1 + fr.shape.entries));
      fr.hash_shift[o] = 64 - bits;
    }
    for (int o = 0; o < kMaxOrders; ++o)
      for (int b = 0; b < kWeightBuckets; ++b) {
        fr.weights[o][b] = kInitialWeight;
        fr.gradient[o][b] = 0;
        fr.rows[o][b] = 0;
      }
  }
}

std::uint32_t ContextCounts::hash(const std::uint16_t* last, int order) const {
  std::uint64_t h = static_cast<std::uint64_t>(order);
  for (int k = 0; k < order; ++k) h = (h + last[k] + 1) * 0x9E3779B97F4A7C15ull;
  return static_cast<std::uint32_t>(h >> 32);  // callers split it into bucket and check
}

void ContextCounts::begin_step(const std::uint32_t* ids, std::size_t n) {
  row_ids_.assign(ids, ids + n);
  contexts_.resize(n * kMaxOrders);  // predict() sets what is read
  symbols_.assign(n, 0);
}

void ContextCounts::predict(const std::uint32_t* positions, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < last; ++i) {
    const std::uint32_t id = row_ids_[i];
    if (chunks_[id].shape.orders == 0) continue;
    if (positions[i] == 0) seen_[id] = 0;
    const Frame& fr = frames_[chunks_[id].frame];
    const int entries = fr.shape.entries;
    for (int o = 0; o < fr.shape.orders; ++o) {
      Context& c = contexts_[i * kMaxOrders + o];
      c.total = 0;
      if (seen_[id] < static_cast<std::uint32_t>(o + 1)) continue;
      const std::uint64_t h = std::uint64_t{hash(&recent_[id * kMaxOrders], o + 1)} << 32;
      c.bucket = static_cast<std::uint32_t>(h >> fr.hash_shift[o]);
      const std::uint32_t* b = &fr.table[o][std::size_t{c.bucket} * (1 + entries)];
      if (b[0] != (static_cast<std::uint32_t>(h >> 32) | 1)) continue;
      std::uint32_t distinct = 0;
      for (int e = 0; e < entries; ++e) {
        c.entries[e] = b[1 + e];
        c.total += count_of(b[1 + e]);
        distinct += count_of(b[1 + e]) > 0 ? 1 : 0;
      }
      if (c.total > 0) c.weight = weight_bucket(c.total, distinct == 1);
    }
  }
}

std::size_t ContextCounts::candidates(std::size_t i, std::uint32_t* out) const {
  const std::uint32_t id = row_ids_[i];
  if (chunks_[id].shape.orders == 0) return 0;
  const Shape& shape = frames_[chunks_[id].frame].shape;
  std::size_t k = 0;
  for (int o = 0; o < shape.orders; ++o) {
    const Context& c = contexts_[i * kMaxOrders + o];
    if (c.total == 0) continue;
    for (int e = 0; e < shape.entries; ++e)
      if (count_of(c.entries[e]) > 0) out[k++] = symbol_of(c.entries[e]);
  }
  std::sort(out, out + k);
  return static_cast<std::size_t>(std::unique(out, out + k) - out);
}

void ContextCounts::add_boosts(std::size_t i, std::uint64_t network_total, const std::uint32_t* symbols,
                               std::size_t k, std::uint64_t* boosts) const {
  const std::uint32_t id = row_ids_[i];
  if (chunks_[id].shape.orders == 0) return;
  const Frame& fr = frames_[chunks_[id].frame];
  for (int o = 0; o < fr.shape.orders; ++o) {
    const Context& c = contexts_[i * kMaxOrders + o];
    if (c.total == 0) continue;
    const std::uint64_t scale = (network_total * fr.weights[o][c.weight]) >> 16;
    for (int n = 0; n < fr.shape.entries; ++n) {
      const std::uint32_t e = c.entries[n];
      if (count_of(e) == 0) continue;
      const std::size_t j = static_cast<std::size_t>(std::lower_bound(symbols, symbols + k, symbol_of(e)) - symbols);
      boosts[j] += scale * count_of(e) / c.total;
    }
  }
}

void ContextCounts::update(std::size_t i, std::uint32_t symbol, std::uint64_t freq, std::uint64_t total,
                           std::uint64_t network_total) {
  symbols_[i] = symbol;
  const std::uint32_t id = row_ids_[i];
  if (chunks_[id].shape.orders == 0) return;
  Frame& fr = frames_[chunks_[id].frame];
  for (int o = 0; o < fr.shape.orders; ++o) {
    const Context& c = contexts_[i * kMaxOrders + o];
    if (c.total == 0) continue;
    std::uint64_t count = 0;
    for (int n = 0; n < fr.shape.entries; ++n)
      if (count_of(c.entries[n]) > 0 && symbol_of(c.entries[n]) == symbol) count = count_of(c.entries[n]);
    // d log p / d w (x 2^16) = (T count / N) / freq - T / total, the mixture's gradient.
    const auto up = static_cast<std::int64_t>(((network_total * count) << 16) / (std::uint64_t{c.total} * freq));
    const auto down = static_cast<std::int64_t>((network_total << 16) / total);
    fr.gradient[o][c.weight] += std::clamp(up - down, -kMaxGradient, kMaxGradient);
    ++fr.rows[o][c.weight];
  }
}

void ContextCounts::end_step(const std::uint32_t* ids, std::size_t n, const RangeRunner& for_ranges) {
  // Only the frames of the step's rows have gradients (runs of many short
  // frames: going over all of them was a tenth of the time).
  ++steps_;
  frame_step_.resize(frames_.size(), 0);
  for (std::size_t i = 0; i < n; ++i) {
    const Chunk& c = chunks_[ids[i]];
    if (c.shape.orders == 0 || frame_step_[c.frame] == steps_) continue;
    frame_step_[c.frame] = steps_;
    Frame& fr = frames_[c.frame];
    for (int o = 0; o < fr.shape.orders; ++o)
      for (int b = 0; b < kWeightBuckets; ++b) {
        if (fr.rows[o][b] == 0) continue;
        const std::int64_t w = fr.weights[o][b] + fr.gradient[o][b] / fr.rows[o][b] / kRateDivisor;
        fr.weights[o][b] = static_cast<std::uint32_t>(std::clamp<std::int64_t>(w, 0, kMaxWeight));
        fr.gradient[o][b] = 0;
        fr.rows[o][b] = 0;
      }
  }
  // Each order has its own table, so the predictor's threads share the
  // orders (on one thread this was a twentieth of a -5 step, the other idle).
  for_ranges(kMaxOrders, [&](std::size_t first, std::size_t last) {
    count(ids, n, static_cast<int>(first), static_cast<int>(last));
  });
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = ids[i];
    if (chunks_[id].shape.orders == 0) continue;
    std::uint16_t* recent = &recent_[id * kMaxOrders];
    for (int k = kMaxOrders - 1; k > 0; --k) recent[k] = recent[k - 1];
    recent[0] = static_cast<std::uint16_t>(symbols_[i]);
    ++seen_[id];
  }
}

void ContextCounts::resume_from(std::uint32_t from, std::uint32_t to) {
  const Chunk &a = chunks_.at(from), &b = chunks_.at(to);
  if (a.shape.orders == 0 && b.shape.orders == 0) return;
  const Frame& source = frames_.at(a.frame);
  Frame& target = frames_.at(b.frame);
  if (!(a.shape == b.shape)) throw std::invalid_argument("context counts: resuming a chunk of another shape");
  for (int o = 0; o < source.shape.orders; ++o) {
    if (source.table[o].size() != target.table[o].size())
      throw std::invalid_argument("context counts: resuming a frame with tables of another size");
    std::copy_n(source.table[o].data(), source.table[o].size(), target.table[o].data());
  }
  std::copy_n(&source.weights[0][0], kMaxOrders * kWeightBuckets, &target.weights[0][0]);
  std::copy_n(&source.gradient[0][0], kMaxOrders * kWeightBuckets, &target.gradient[0][0]);
  std::copy_n(&source.rows[0][0], kMaxOrders * kWeightBuckets, &target.rows[0][0]);
  std::copy_n(&recent_[std::size_t{from} * kMaxOrders], kMaxOrders, &recent_[std::size_t{to} * kMaxOrders]);
  seen_[to] = seen_[from];
}

void ContextCounts::count(const std::uint32_t* ids, std::size_t n, int first, int last) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = ids[i];
    if (chunks_[id].shape.orders == 0) continue;
    Frame& fr = frames_[chunks_[id].frame];
    const std::uint32_t symbol = symbols_[i];
    const int words = 1 + fr.shape.entries;
    const std::uint16_t* recent = &recent_[id * kMaxOrders];
    for (int o = first; o < std::min(last, fr.shape.orders); ++o) {
      if (seen_[id] < static_cast<std::uint32_t>(o + 1)) break;
      const std::uint64_t h = std::uint64_t{hash(recent, o + 1)} << 32;
      std::uint32_t* b = &fr.table[o][(h >> fr.hash_shift[o]) * words];
      const std::uint32_t check = static_cast<std::uint32_t>(h >> 32) | 1;
      if (b[0] != check) {
        std::fill(b, b + words, 0);
        b[0] = check;
      }
      std::uint32_t* entries = b + 1;
      int found = -1, weakest = 0;
      for (int e = 0; e < fr.shape.entries; ++e) {
        if (count_of(entries[e]) > 0 && symbol_of(entries[e]) == symbol) found = e;
        if (count_of(entries[e]) < count_of(entries[weakest])) weakest = e;
      }
      if (found < 0) {
        entries[weakest] = symbol << 16 | 1;
      } else if (count_of(entries[found]) < kMaxCount) {
        ++entries[found];
      } else {
        ++entries[found];
        for (int e = 0; e < fr.shape.entries; ++e)
          entries[e] = (entries[e] & 0xFFFF0000u) | (count_of(entries[e]) / 2);
      }
    }
  }
}

}  // namespace lmzip

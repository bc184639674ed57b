#include "adapt/match_model.h"

#include <algorithm>
#include <stdexcept>

#include "coder/range_coder.h"
#include "model/int_ops.h"

namespace lmzip {

namespace {

constexpr std::uint32_t kContextSymbols = 2;  // symbols hashed to find an earlier occurrence (2 of 1..6 measured best)
constexpr std::uint32_t kMaxVerify = 64;      // symbols compared backwards when a match is found
constexpr std::uint32_t kMaxRateCount = 255;  // the hit rates' slowest learning rate is 2/(2n+3)
constexpr std::uint32_t kPriorP16 = 40000;
constexpr std::uint32_t kPriorUpdates = 4;
constexpr std::uint32_t kMaxP16 = 65536 - 32;

using intops::floor_log2;

std::uint32_t context_hash(const std::uint16_t* end) { return (end[-1] * 0x9E3779B1u) ^ (end[-2] * 0x85EBCA6Bu); }

// Frame matches: contexts of 3 symbols (2 and 4 measured worse across
// chunks, where 2 symbols recur too often), 4 candidates per context (the
// longest verified wins; 1 and 2 measured 1.5% and 0.6% larger, 8 0.4% smaller).
constexpr std::uint32_t kFrameContext = 3;
constexpr std::uint32_t kWays = 4;

std::uint32_t frame_hash(const std::uint16_t* end) {
  std::uint32_t h = 0;
  for (std::uint32_t k = 1; k <= kFrameContext; ++k) h = (h + end[-static_cast<int>(k)] + 1) * 0x9E3779B1u;
  return h;
}

// Symbols that agree backwards from a[a_end - 1] and b[b_end - 1], at most kMaxVerify.
std::uint32_t matched_backwards(const std::uint16_t* a, std::uint32_t a_end, const std::uint16_t* b,
                                std::uint32_t b_end) {
  std::uint32_t matched = 0;
  while (matched < kMaxVerify && matched < a_end && matched < b_end &&
         a[a_end - 1 - matched] == b[b_end - 1 - matched])
    ++matched;
  return matched;
}

}  // namespace

HitRates::HitRates() {
  // A prior that trusts longer matches more, worth as much as a few updates:
  // it saves learning each bucket from nothing in every chunk (measured 3%
  // smaller on paper1, progc, bib and alice29 than starting at 0).
  for (int l = 0; l < kLengthBuckets; ++l)
    for (int c = 0; c < kConfidenceBuckets; ++c)
      rates_[l * kConfidenceBuckets + c] = {kPriorP16 * (l + 1) / (l + 2), kPriorUpdates};
}

std::uint64_t HitRates::boost(std::uint32_t length, const SymbolRange& r) {
  const int length_bucket = static_cast<int>(std::min<std::uint32_t>(length, kLengthBuckets) - 1);
  const int confidence_bucket = std::min(kConfidenceBuckets - 1, floor_log2(r.total / r.freq));
  bucket_ = length_bucket * kConfidenceBuckets + confidence_bucket;
  const std::uint64_t q = std::min(rates_[bucket_].p16, kMaxP16);
  // Raise the symbol's probability from freq/total to q: (freq + b) / (total + b) = q / 2^16.
  if (q * r.total <= (std::uint64_t{r.freq} << 16)) return 0;
  const std::uint64_t b = (q * r.total - (std::uint64_t{r.freq} << 16)) / ((std::uint64_t{1} << 16) - q);
  return std::min(b, kMaxTotal - r.total);
}

void HitRates::update(bool hit) {
  if (bucket_ < 0) return;
  Rate& h = rates_[bucket_];
  const std::int64_t target = hit ? 65536 : 0;
  h.p16 = static_cast<std::uint32_t>(h.p16 + (target - h.p16) * 2 / (2 * std::int64_t{h.n} + 3));
  h.n = std::min(h.n + 1, kMaxRateCount);
  bucket_ = -1;
}

namespace {
// At most 64 KiB a chunk, however many symbols a (hostile) chunk declares:
// thousands of chunks may run at once. history_ grows only as symbols come.
int chunk_table_bits(std::uint32_t symbol_count) {
  return std::clamp(floor_log2(std::max<std::uint32_t>(symbol_count, 1)), 10, 14);
}
}  // namespace

std::size_t MatchModel::table_bytes(std::uint32_t symbol_count) {
  return (std::size_t{1} << chunk_table_bits(symbol_count)) * sizeof(std::uint32_t);
}

MatchModel::MatchModel(std::uint32_t symbol_count) {
  const int bits = chunk_table_bits(symbol_count);
  last_seen_.assign(std::size_t{1} << bits, 0);
  hash_shift_ = 32 - bits;
}

void MatchModel::update(std::uint32_t symbol) {
  if (predicts()) {
    rates_.update(predicted() == symbol);
    if (predicted() == symbol) {
      ++pointer_;
      length_ = std::min(length_ + 1, 0xFFFFu);
    } else {
      length_ = 0;
    }
  }
  history_.push_back(static_cast<std::uint16_t>(symbol));
  const auto n = static_cast<std::uint32_t>(history_.size());
  if (n < kContextSymbols) return;
  std::uint32_t& seen = last_seen_[context_hash(history_.data() + n) >> hash_shift_];
  if (length_ == 0 && seen > 0) {
    // The symbols before an earlier position that match ours, counted backwards.
    const std::uint32_t matched = matched_backwards(history_.data(), n, history_.data(), seen - 1);
    if (matched > 0) {
      pointer_ = seen - 1;
      length_ = matched;
    }
  }
  seen = n + 1;
}

namespace {
// A frame's table has 2^10..2^17 buckets of kWays (at most 4 MiB), about one
// entry a declared symbol.
int frame_table_bits(std::uint64_t frame_symbols) { return std::clamp(floor_log2(frame_symbols) - 2, 10, 17); }
}  // namespace

std::size_t MatchModels::frame_table_bytes(std::uint64_t frame_symbols) {
  return (std::size_t{1} << frame_table_bits(frame_symbols)) * kWays * sizeof(std::uint64_t);
}

MatchModels::MatchModels(const std::vector<Chunk>& chunks)
    : chunks_(chunks), models_(chunks_.size()), frame_matches_(chunks_.size()) {
  std::vector<std::uint64_t> frame_symbols;
  for (const Chunk& c : chunks_) {
    if (!shares_frame(c.mode)) continue;
    if (frame_symbols.size() <= c.frame) frame_symbols.resize(c.frame + 1, 0);
    frame_symbols[c.frame] += c.symbol_count;
  }
  tables_.resize(frame_symbols.size());
  for (std::size_t f = 0; f < frame_symbols.size(); ++f) {
    if (frame_symbols[f] == 0) continue;
    const int bits = frame_table_bits(frame_symbols[f]);
    tables_[f].last_seen = ZeroedArray<std::uint64_t>((std::size_t{1} << bits) * kWays);
    tables_[f].hash_shift = 32 - bits;
  }
}

const std::vector<std::uint16_t>* MatchModels::history(std::uint32_t chunk) const {
  return models_[chunk] ? &models_[chunk]->history() : nullptr;
}

bool MatchModels::predict(const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n) {
  row_ids_.assign(ids, ids + n);
  sources_.assign(n, Source::None);
  predicted_.assign(n, 0);
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = ids[i];
    auto& m = models_[id];
    if (positions[i] == 0 && recipe(chunks_[id].mode).matches != MatchScope::None) m.emplace(chunks_[id].symbol_count);
    if (!m) continue;
    // The longer match predicts (measured 7% smaller than the chunk's first).
    const bool frame_longer = frame_matches_[id].length > m->length();
    if (m->predicts() && !frame_longer) {
      sources_[i] = Source::Chunk;
      predicted_[i] = m->predicted();
    } else if (frame_matches_[id].length > 0) {
      sources_[i] = Source::Frame;
      const FrameMatch& f = frame_matches_[id];
      predicted_[i] = (*history(f.chunk))[f.pointer];
    }
    any = any || sources_[i] != Source::None;
  }
  return any;
}

std::uint64_t MatchModels::boost(std::size_t i, const SymbolRange& r) {
  const std::uint32_t id = row_ids_[i];
  switch (sources_[i]) {
    case Source::Chunk:
      return models_[id]->boost(r);
    case Source::Frame:
      return frame_matches_[id].rates.boost(frame_matches_[id].length, r);
    case Source::None:
      break;
  }
  return 0;
}

void MatchModels::update(std::size_t i, std::uint32_t symbol, bool last) {
  const std::uint32_t id = row_ids_[i];
  auto& m = models_[id];
  if (!m) return;
  FrameMatch& f = frame_matches_[id];
  if (f.length > 0) {
    // A frame match follows its source whether or not it was the row's prediction.
    const bool hit = (*history(f.chunk))[f.pointer] == symbol;
    if (sources_[i] == Source::Frame) f.rates.update(hit);
    if (hit) {
      ++f.pointer;
      f.length = std::min(f.length + 1, 0xFFFFu);
    } else {
      f.length = 0;
    }
  }
  m->update(symbol);
  // Frame chunks keep their history for the others till the run ends.
  if (last && !shares_frame(chunks_[id].mode)) m.reset();
}

void MatchModels::resume_from(std::uint32_t from, std::uint32_t to) {
  const Chunk &a = chunks_.at(from), &b = chunks_.at(to);
  if (a.mode != b.mode) throw std::invalid_argument("match models: resuming a chunk of another mode");
  if (models_[from] && MatchModel::table_bytes(a.symbol_count) != MatchModel::table_bytes(b.symbol_count))
    throw std::invalid_argument("match models: resuming a chunk with a table of another size");
  models_[to] = models_[from];
  frame_matches_[to] = frame_matches_[from];
  if (!shares_frame(a.mode)) return;
  const FrameTable& source = tables_.at(a.frame);
  FrameTable& target = tables_.at(b.frame);
  if (source.last_seen.size() != target.last_seen.size())
    throw std::invalid_argument("match models: resuming a frame with a table of another size");
  // Entries name the chunk whose history they point into: from's become to's.
  for (std::size_t k = 0; k < source.last_seen.size(); ++k) {
    const std::uint64_t seen = source.last_seen[k];
    target.last_seen[k] = seen != 0 && (seen >> 32) == std::uint64_t{from} + 1
                              ? (std::uint64_t{to} + 1) << 32 | (seen & 0xFFFFFFFFu)
                              : seen;
  }
}

void MatchModels::end_step(const std::uint32_t* ids, std::size_t n) {
  // Lookups first, so that every row sees the table as of the step's start.
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = ids[i];
    if (!shares_frame(chunks_[id].mode) || !models_[id]) continue;
    FrameMatch& f = frame_matches_[id];
    const auto& h = models_[id]->history();
    const auto size = static_cast<std::uint32_t>(h.size());
    // A match that reached the end of what its source has so far stops there.
    if (f.length > 0 && f.pointer >= history(f.chunk)->size()) f.length = 0;
    if (f.length > 0 || size < kFrameContext) continue;
    const FrameTable& t = tables_[chunks_[id].frame];
    const std::size_t base = std::size_t{frame_hash(h.data() + size) >> t.hash_shift} * kWays;
    std::uint32_t best = 0;
    for (std::uint32_t w = 0; w < kWays; ++w) {
      const std::uint64_t seen = t.last_seen[base + w];
      if (seen == 0) break;
      const auto chunk = static_cast<std::uint32_t>((seen >> 32) - 1);
      const auto pointer = static_cast<std::uint32_t>(seen);
      if (chunk == id) continue;  // its own history is MatchModel's
      const auto& source = *history(chunk);
      const std::uint32_t matched = matched_backwards(h.data(), size, source.data(), pointer);
      if (matched > best) {
        best = matched;
        f.chunk = chunk;
        f.pointer = pointer;
        f.length = matched;
      }
    }
  }
  // Each row's newest context whose next symbol is known: the one before its last symbol.
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = ids[i];
    if (!shares_frame(chunks_[id].mode) || !models_[id]) continue;
    const auto& h = models_[id]->history();
    const auto size = static_cast<std::uint32_t>(h.size());
    if (size < kFrameContext + 1) continue;
    FrameTable& t = tables_[chunks_[id].frame];
    std::uint64_t* bucket = &t.last_seen[std::size_t{frame_hash(h.data() + size - 1) >> t.hash_shift} * kWays];
    for (std::uint32_t w = kWays - 1; w > 0; --w) bucket[w] = bucket[w - 1];
    bucket[0] = (std::uint64_t{id} + 1) << 32 | (size - 1);
  }
}

}  // namespace lmzip

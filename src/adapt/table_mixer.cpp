#include "adapt/table_mixer.h"

#include <algorithm>

namespace lmzip {

namespace {

std::vector<ContextCounts::Chunk> counted_chunks(const std::vector<MatchModels::Chunk>& chunks) {
  std::vector<ContextCounts::Chunk> out;
  out.reserve(chunks.size());
  for (const auto& c : chunks) out.push_back({c.frame, c.symbol_count, counts_shape(recipe(c.mode).counts)});
  return out;
}

}  // namespace

std::size_t TableMixer::max_boosted(ChunkMode mode) {
  const ContextCounts::Shape shape = counts_shape(recipe(mode).counts);
  return static_cast<std::size_t>(shape.orders * shape.entries) + (recipe(mode).matches != MatchScope::None ? 1 : 0);
}

TableMixer::TableMixer(const std::vector<MatchModels::Chunk>& chunks)
    : matches_(chunks), counts_(counted_chunks(chunks)) {}

void TableMixer::prepare(Predictor& predictor, const std::uint32_t* ids, const std::uint32_t* positions,
                         std::size_t n) {
  matches_.predict(ids, positions, n);
  counts_.begin_step(ids, n);
  boosted_.resize(n * kMaxBoosted);
  sizes_.assign(n, 0);
  network_totals_.resize(n);
  totals_.resize(n);
  // Rows are independent until end_step(): split between the predictor's threads.
  predictor.for_row_ranges(n, [&](std::size_t first, std::size_t last) {
    counts_.predict(positions, first, last);
    std::uint32_t symbols[kMaxBoosted];
    for (std::size_t i = first; i < last; ++i) {
      std::size_t k = counts_.candidates(i, symbols);  // ascending
      if (matches_.predicts(i)) {
        const std::uint32_t p = matches_.predicted()[i];
        std::uint32_t* at = std::lower_bound(symbols, symbols + k, p);
        if (at == symbols + k || *at != p) {
          std::copy_backward(at, symbols + k, symbols + k + 1);
          *at = p;
          ++k;
        }
      }
      for (std::size_t j = 0; j < k; ++j) boosted_[i * kMaxBoosted + j] = {symbols[j], 0, 0, 0};
      sizes_[i] = static_cast<std::uint16_t>(k);
    }
  });
  // The network's ranges of the boosted symbols (rows with fewer ask for
  // symbol 0; every row's first range also gives its total).
  const std::size_t columns = std::max<std::size_t>(1, n == 0 ? 1 : *std::max_element(sizes_.begin(), sizes_.end()));
  column_.assign(n * columns, 0);
  ranges_.resize(n * columns);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < sizes_[i]; ++j) column_[i * columns + j] = boosted_[i * kMaxBoosted + j].symbol;
  predictor.ranges_of_many(column_.data(), columns, ranges_.data());
  predictor.for_row_ranges(n, [&](std::size_t first, std::size_t last) {
    std::uint32_t symbols[kMaxBoosted];
    for (std::size_t i = first; i < last; ++i) {
      network_totals_[i] = ranges_[i * columns].total;
      Boosted* b = &boosted_[i * kMaxBoosted];
      std::uint64_t boosts[kMaxBoosted] = {};
      for (std::size_t j = 0; j < sizes_[i]; ++j) {
        b[j].below = ranges_[i * columns + j].below;
        b[j].freq = ranges_[i * columns + j].freq;
        symbols[j] = b[j].symbol;
      }
      counts_.add_boosts(i, network_totals_[i], symbols, sizes_[i], boosts);
      std::uint64_t total = network_totals_[i];
      for (std::size_t j = 0; j < sizes_[i]; ++j) {
        b[j].boost = boosts[j];
        total += b[j].boost;
      }
      if (matches_.predicts(i)) {
        // The match raises its symbol in the table the counts left.
        const std::uint32_t p = matches_.predicted()[i];
        std::uint64_t before = 0;
        std::size_t j = 0;
        for (; b[j].symbol != p; ++j) before += b[j].boost;
        const SymbolRange counted{b[j].below + before, total, static_cast<std::uint32_t>(b[j].freq + b[j].boost), p};
        const std::uint64_t match_boost = matches_.boost(i, counted);
        b[j].boost += match_boost;
        total += match_boost;
      }
      totals_[i] = total;
    }
  });
}

std::uint64_t TableMixer::network_target(std::size_t i, std::uint64_t target) const {
  std::uint64_t added = 0;  // boosts of the symbols before
  const Boosted* b = row(i);
  for (std::size_t j = 0; j < sizes_[i]; ++j) {
    const std::uint64_t start = b[j].below + added;
    if (target < start) break;
    if (target < start + b[j].freq + b[j].boost) return b[j].below;
    added += b[j].boost;
  }
  return target - added;
}

SymbolRange TableMixer::mixed(std::size_t i, const SymbolRange& network) const {
  SymbolRange m = network;
  m.total = totals_[i];
  const Boosted* b = row(i);
  for (std::size_t j = 0; j < sizes_[i]; ++j) {
    if (b[j].symbol < network.symbol) m.below += b[j].boost;
    if (b[j].symbol == network.symbol) m.freq = static_cast<std::uint32_t>(m.freq + b[j].boost);
  }
  return m;
}

void TableMixer::update(std::size_t i, const SymbolRange& mixed, bool last) {
  matches_.update(i, mixed.symbol, last);
  counts_.update(i, mixed.symbol, mixed.freq, mixed.total, network_totals_[i]);
}

void TableMixer::end_step(Predictor& predictor, const std::uint32_t* ids, std::size_t n) {
  matches_.end_step(ids, n);
  counts_.end_step(ids, n, [&predictor](std::size_t count, const std::function<void(std::size_t, std::size_t)>& fn) {
    predictor.for_row_ranges(count, fn);
  });
}

}  // namespace lmzip

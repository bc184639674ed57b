#include "model/predictor.h"

#include <numeric>

#include "coder/range_coder.h"

namespace lmzip {

void Predictor::advance(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count) {
  tables_.resize(count * vocab_size());
  step(slots, symbols, count, tables_.data());
  rows_ = count;
  host_tables_ = true;
}

void Predictor::for_row_ranges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
  fn(0, n);
}

void Predictor::ranges_of(const std::uint32_t* symbols, SymbolRange* out) {
  const std::uint32_t V = vocab_size();
  for (std::size_t i = 0; i < rows_; ++i) {
    const std::uint32_t* f = tables_.data() + i * V;
    const std::uint32_t s = symbols[i];
    SymbolRange& r = out[i];
    r.symbol = s;
    r.freq = f[s];
    r.below = std::accumulate(f, f + s, std::uint64_t{0});
    r.total = std::accumulate(f + s, f + V, r.below);
  }
}

void Predictor::ranges_of_many(const std::uint32_t* symbols, std::size_t per_row, SymbolRange* out) {
  const std::size_t rows = rows_;
  if (host_tables_) {
    const std::uint32_t V = vocab_size();
    cum_.resize(V + 1);
    for (std::size_t i = 0; i < rows; ++i) {
      const std::uint32_t* f = tables_.data() + i * V;
      const std::uint64_t total = cumulative_frequencies(f, V, cum_.data());
      for (std::size_t j = 0; j < per_row; ++j) {
        const std::uint32_t s = symbols[i * per_row + j];
        out[i * per_row + j] = {cum_[s], total, f[s], s};
      }
    }
    return;
  }
  std::vector<std::uint32_t> column(rows);
  std::vector<SymbolRange> ranges(rows);
  for (std::size_t j = 0; j < per_row; ++j) {
    for (std::size_t i = 0; i < rows; ++i) column[i] = symbols[i * per_row + j];
    ranges_of(column.data(), ranges.data());
    for (std::size_t i = 0; i < rows; ++i) out[i * per_row + j] = ranges[i];
  }
}

void Predictor::find(const std::uint64_t* targets, SymbolRange* out) {
  const std::uint32_t V = vocab_size();
  cum_.resize(V + 1);
  std::uint64_t* cum = cum_.data();
  for (std::size_t i = 0; i < rows_; ++i) {
    const std::uint32_t* f = tables_.data() + i * V;
    SymbolRange& r = out[i];
    r.total = cumulative_frequencies(f, V, cum);
    r.symbol = static_cast<std::uint32_t>(find_symbol(cum, V, targets[i]));
    r.below = cum[r.symbol];
    r.freq = f[r.symbol];
  }
}

}  // namespace lmzip

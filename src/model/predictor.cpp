#include "model/predictor.h"

#include <algorithm>
#include <stdexcept>

namespace lmzip {

void Predictor::advance(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count) {
  const std::uint32_t V = vocab_size(), nb = blocks();
  tables_.resize(count * V);
  step(slots, symbols, count, tables_.data());
  block_below_.resize(count * (nb + 1));
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t* f = tables_.data() + i * V;
    std::uint64_t* below = block_below_.data() + i * (nb + 1);
    below[0] = 0;
    for (std::uint32_t b = 0; b < nb; ++b) {
      const std::uint32_t end = std::min(V, (b + 1) * kBlock);
      std::uint64_t sum = 0;
      for (std::uint32_t s = b * kBlock; s < end; ++s) sum += f[s];
      below[b + 1] = below[b] + sum;
    }
  }
  rows_ = count;
  host_tables_ = true;
}

void Predictor::for_row_ranges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
  fn(0, n);
}

void Predictor::attach(OutputAdjustment* adaptation, std::uint32_t, std::uint32_t) {
  if (adaptation != nullptr) throw std::logic_error("this backend has no output adaptation");
}

std::vector<std::uint8_t> Predictor::save_slot(std::uint32_t) const {
  throw std::logic_error("this backend cannot save a slot");
}
void Predictor::load_slot(std::uint32_t, const std::vector<std::uint8_t>&) {
  throw std::logic_error("this backend cannot load a slot");
}

void Predictor::learn(const std::uint32_t*) { throw std::logic_error("this backend has no output adaptation"); }

SymbolRange Predictor::host_range(std::size_t i, std::uint32_t s) const {
  const std::uint32_t V = vocab_size(), nb = blocks();
  const std::uint32_t* f = tables_.data() + i * V;
  const std::uint64_t* below = block_below_.data() + i * (nb + 1);
  std::uint64_t sum = below[s / kBlock];
  for (std::uint32_t k = s / kBlock * kBlock; k < s; ++k) sum += f[k];
  return {sum, below[nb], f[s], s};
}

void Predictor::ranges_of(const std::uint32_t* symbols, SymbolRange* out) {
  for (std::size_t i = 0; i < rows_; ++i) out[i] = host_range(i, symbols[i]);
}

void Predictor::ranges_of_many(const std::uint32_t* symbols, std::size_t per_row, SymbolRange* out) {
  const std::size_t rows = rows_;
  if (host_tables_) {
    for (std::size_t i = 0; i < rows * per_row; ++i) out[i] = host_range(i / per_row, symbols[i]);
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
  const std::uint32_t V = vocab_size(), nb = blocks();
  for (std::size_t i = 0; i < rows_; ++i) {
    const std::uint32_t* f = tables_.data() + i * V;
    const std::uint64_t* below = block_below_.data() + i * (nb + 1);
    // The block whose sums straddle the target (the last one for a target
    // at or past the total, which only corrupt input asks), then the symbol.
    const std::uint64_t target = targets[i];
    const auto b = static_cast<std::uint32_t>(
        std::min<std::ptrdiff_t>(std::upper_bound(below + 1, below + nb + 1, target) - (below + 1), nb - 1));
    const std::uint32_t end = std::min(V, (b + 1) * kBlock) - 1;
    std::uint32_t s = b * kBlock;
    std::uint64_t sum = below[b];
    for (; s < end && sum + f[s] <= target; ++s) sum += f[s];
    out[i] = {sum, below[nb], f[s], s};
  }
}

}  // namespace lmzip

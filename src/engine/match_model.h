// A chunk's own history as a second predictor: when the last few symbols
// occurred before in the chunk, the symbol that followed them then is likely
// next (logs, code, tables, repeated phrases: what a small network cannot
// hold). Integer-only and a pure function of the chunk's symbols so far, so
// encoder and decoder agree on every machine; docs/format.md defines it.
#pragma once
#include <cstdint>
#include <vector>

#include "model/predictor.h"

namespace lmzip {

class MatchModel {
 public:
  // A model for a chunk of symbol_count symbols (sizes its table).
  explicit MatchModel(std::uint32_t symbol_count);

  // Whether a match predicts the next symbol, and which.
  bool predicts() const { return length_ > 0; }
  std::uint32_t predicted() const { return history_[pointer_]; }

  // Mixes the prediction into the network's table: given the range of
  // predicted() in that table, returns the frequency to add to it (0 when the
  // network already gives it at least the match's learned probability).
  // The mixed table is the network's with predicted()'s frequency raised by
  // the boost, so its total grows by the same amount and stays <= 2^32.
  std::uint64_t boost(const SymbolRange& predicted_range);

  // Appends the symbol coded after the last boost() (or with no prediction).
  void update(std::uint32_t symbol);

 private:
  static constexpr int kLengthBuckets = 16;
  static constexpr int kConfidenceBuckets = 12;
  struct HitRate {
    std::uint32_t p16 = 0;  // probability that the prediction is right, x 2^16
    std::uint32_t n = 0;    // updates so far, capped (sets the learning rate)
  };

  std::vector<std::uint32_t> history_;
  std::vector<std::uint32_t> last_seen_;  // context hash -> position after it + 1 (0: none)
  int hash_shift_;
  std::uint32_t pointer_ = 0;  // position in history_ of the predicted symbol
  std::uint32_t length_ = 0;   // symbols matched so far (0: no match)
  HitRate rates_[kLengthBuckets * kConfidenceBuckets];
  int bucket_ = -1;  // rates_ entry of the last boost()
};

// The range of `symbol` in the mixed table, given its range in the network's
// table (symbol_range), the predicted symbol and the boost.
SymbolRange mix_range(const SymbolRange& symbol_range, std::uint32_t predicted, std::uint64_t boost);

}  // namespace lmzip

// History as a second predictor: when the last few symbols occurred before
// (in the chunk, or in another chunk of its frame so far in the lock-step),
// the symbol that followed them then is likely next (logs, code, tables,
// repeated phrases: what a small network cannot hold). Integer-only and a
// pure function of the symbols coded so far, so encoder and decoder agree on
// every machine; docs/format.md defines it.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "adapt/zeroed_array.h"
#include "format/chunk_recipe.h"
#include "model/predictor.h"

namespace lmzip {

// The learned probability that a match predicts right, by match length and
// by how much the network already gives the predicted symbol.
class HitRates {
 public:
  HitRates();
  // The frequency to add to the predicted symbol (range r in the network's
  // table) to raise it to its bucket's hit rate; remembers the bucket.
  std::uint64_t boost(std::uint32_t length, const SymbolRange& r);
  // Learns from the symbol coded after the last boost() (no-op without one).
  void update(bool hit);

 private:
  static constexpr int kLengthBuckets = 16;
  static constexpr int kConfidenceBuckets = 12;
  struct Rate {
    std::uint32_t p16 = 0;  // probability that the prediction is right, x 2^16
    std::uint32_t n = 0;    // updates so far, capped (sets the learning rate)
  };
  Rate rates_[kLengthBuckets * kConfidenceBuckets];
  int bucket_ = -1;  // rates_ entry of the last boost()
};

class MatchModel {
 public:
  // A model for a chunk of symbol_count symbols (sizes its table).
  explicit MatchModel(std::uint32_t symbol_count);
  // The bytes of that table.
  static std::size_t table_bytes(std::uint32_t symbol_count);

  // Whether a match predicts the next symbol, and which.
  bool predicts() const { return length_ > 0; }
  std::uint32_t length() const { return length_; }
  std::uint32_t predicted() const { return history_[pointer_]; }

  // Mixes the prediction into the network's table: given the range of
  // predicted() in that table, returns the frequency to add to it (0 when the
  // network already gives it at least the match's learned probability).
  // The mixed table is the network's with predicted()'s frequency raised by
  // the boost, so its total grows by the same amount and stays <= 2^32.
  std::uint64_t boost(const SymbolRange& predicted_range) { return rates_.boost(length_, predicted_range); }

  // Appends the symbol coded after the last boost() (or with no prediction).
  void update(std::uint32_t symbol);

  // The chunk's symbols so far (symbols are < 65536: model files allow no more).
  const std::vector<std::uint16_t>& history() const { return history_; }

 private:
  std::vector<std::uint16_t> history_;
  std::vector<std::uint32_t> last_seen_;  // context hash -> position after it + 1 (0: none)
  int hash_shift_;
  std::uint32_t pointer_ = 0;  // position in history_ of the predicted symbol
  std::uint32_t length_ = 0;   // symbols matched so far (0: no match)
  HitRates rates_;
};

// The match models of the chunks of one lock-step run. Chunk i of the run
// belongs to frame frames[i]; frame matches look only within a frame, so
// what a chunk sees does not depend on which frames run together.
class MatchModels {
 public:
  struct Chunk {
    std::uint32_t frame = 0;
    std::uint32_t symbol_count = 0;
    ChunkMode mode = ChunkMode::Coded;  // its recipe says which matches and counts
  };
  explicit MatchModels(const std::vector<Chunk>& chunks);
  // The bytes of the table shared by a frame's chunks of `frame_symbols` symbols.
  static std::size_t frame_table_bytes(std::uint64_t frame_symbols);

  // Before a step (rows are in ascending chunk order): starts the models of
  // chunks at position 0 and picks each row's prediction; false if none.
  bool predict(const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n);
  bool predicts(std::size_t i) const { return sources_[i] != Source::None; }
  // Row i's predicted symbol (0 where none).
  const std::uint32_t* predicted() const { return predicted_.data(); }
  // Row i's boost (as MatchModel::boost), given the range of its predicted
  // symbol in the table it raises.
  std::uint64_t boost(std::size_t i, const SymbolRange& predicted_range);
  // After row i coded `symbol`; `last`: the chunk's last symbol.
  void update(std::size_t i, std::uint32_t symbol, bool last);
  // After every row of the step is updated: frame matches are looked up and
  // the step's contexts entered, in row order.
  void end_step(const std::uint32_t* ids, std::size_t n);

  // Chunk `to`, the only chunk of its frame and at position 0, goes on from
  // where chunk `from`, the only chunk of its, is (as ContextCounts::resume_from).
  void resume_from(std::uint32_t from, std::uint32_t to);

 private:
  enum class Source : std::uint8_t { None, Chunk, Frame };
  struct FrameMatch {
    std::uint32_t chunk = 0;    // the run's chunk whose history it follows
    std::uint32_t pointer = 0;  // position there of the predicted symbol
    std::uint32_t length = 0;   // 0: none
    HitRates rates;
  };
  struct FrameTable {
    ZeroedArray<std::uint64_t> last_seen;  // context hash -> (chunk + 1) << 32 | position after it
    int hash_shift = 0;
  };
  const std::vector<std::uint16_t>* history(std::uint32_t chunk) const;

  std::vector<Chunk> chunks_;
  std::vector<std::optional<MatchModel>> models_;
  std::vector<FrameMatch> frame_matches_;  // per chunk, for MatchScope::Frame
  std::vector<FrameTable> tables_;         // per frame, allocated at its first Frame chunk
  std::vector<std::uint32_t> row_ids_;
  std::vector<Source> sources_;
  std::vector<std::uint32_t> predicted_;
};

}  // namespace lmzip

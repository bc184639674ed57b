#include "engine/chunk_coder.h"

#include <optional>

#include "coder/range_coder.h"
#include "engine/batch_engine.h"
#include "engine/match_model.h"

namespace lmzip {

namespace {

// The match models of the chunks running in lock-step: one per chunk that
// uses them, alive from its first symbol to its last.
class MatchModels {
 public:
  explicit MatchModels(std::size_t chunks) : models_(chunks) {}

  // Before a step: starts the models of chunks at position 0 and fills
  // predicted[i] with row i's predicted symbol (0 where none).
  template <class UsesMatches, class Length>
  bool predict(const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, UsesMatches uses,
               Length length) {
    predicted_.assign(n, 0);
    boosts_.assign(n, 0);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      auto& m = models_[ids[i]];
      if (positions[i] == 0 && uses(ids[i])) m.emplace(length(ids[i]));
      if (m && m->predicts()) {
        predicted_[i] = m->predicted();
        any = true;
      }
    }
    return any;
  }
  const std::uint32_t* predicted() const { return predicted_.data(); }

  // Row i's boost, given the network's range of its predicted symbol.
  std::uint64_t boost(std::size_t i, std::uint32_t id, const SymbolRange& predicted_range) {
    auto& m = models_[id];
    boosts_[i] = m && m->predicts() ? m->boost(predicted_range) : 0;
    return boosts_[i];
  }

  // Row i's range in its mixed table.
  SymbolRange mixed(std::size_t i, const SymbolRange& r) const { return mix_range(r, predicted_[i], boosts_[i]); }

  // After row i coded `symbol`; `last` frees the model.
  void update(std::uint32_t id, std::uint32_t symbol, bool last) {
    auto& m = models_[id];
    if (!m) return;
    m->update(symbol);
    if (last) m.reset();
  }

 private:
  std::vector<std::optional<MatchModel>> models_;
  std::vector<std::uint32_t> predicted_;
  std::vector<std::uint64_t> boosts_;
};

}  // namespace

void encode_chunks(Predictor& predictor, std::vector<CodedChunk>& chunks, std::size_t first, std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeEncoder> encoders;
  encoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(static_cast<std::uint32_t>(chunks[i].symbols.size()));
    encoders.emplace_back(chunks[i].payload);
  }
  MatchModels matches(last - first);
  std::vector<SymbolRange> ranges, predicted_ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 ranges.resize(n);
                 predicted_ranges.resize(n);
                 const bool any = matches.predict(
                     ids, positions, n, [&](std::uint32_t id) { return chunks[first + id].matches; },
                     [&](std::uint32_t id) { return lengths[id]; });
                 if (any) {
                   predictor.ranges_of(matches.predicted(), predicted_ranges.data());
                   for (std::size_t i = 0; i < n; ++i) matches.boost(i, ids[i], predicted_ranges[i]);
                 }
                 for (std::size_t i = 0; i < n; ++i) next[i] = chunks[first + ids[i]].symbols[positions[i]];
                 predictor.ranges_of(next, ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   const SymbolRange r = matches.mixed(i, ranges[i]);
                   encoders[ids[i]].encode(r.below, r.freq, r.total);
                   chunks[first + ids[i]].ideal_bits += ideal_bits(r.freq, r.total);
                   matches.update(ids[i], next[i], positions[i] + 1 == lengths[ids[i]]);
                 }
               });
  for (auto& e : encoders) e.finish();
}

void decode_chunks(Predictor& predictor, const Tokenizer& tokenizer, std::vector<DecodeTask>& tasks, std::size_t first,
                  std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeDecoder> decoders;
  decoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(tasks[i].symbol_count);
    decoders.emplace_back(tasks[i].payload, tasks[i].payload_size);
  }
  MatchModels matches(last - first);
  std::vector<std::uint64_t> targets;
  std::vector<SymbolRange> ranges, predicted_ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 targets.resize(n);
                 ranges.resize(n);
                 predicted_ranges.resize(n);
                 matches.predict(
                     ids, positions, n, [&](std::uint32_t id) { return tasks[first + id].matches; },
                     [&](std::uint32_t id) { return lengths[id]; });
                 // The predicted symbol's range also gives each table's total.
                 predictor.ranges_of(matches.predicted(), predicted_ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   const SymbolRange& p = predicted_ranges[i];
                   const std::uint64_t boost = matches.boost(i, ids[i], p);
                   // The target in the mixed table, mapped back into the network's.
                   const std::uint64_t t = decoders[ids[i]].target(p.total + boost);
                   targets[i] = t < p.below ? t : t < p.below + p.freq + boost ? p.below : t - boost;
                 }
                 predictor.find(targets.data(), ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   DecodeTask& task = tasks[first + ids[i]];
                   RangeDecoder& d = decoders[ids[i]];
                   const SymbolRange r = matches.mixed(i, ranges[i]);
                   d.consume(r.below, r.freq);
                   tokenizer.decode(&r.symbol, 1, task.bytes);
                   // A corrupt chunk may want more bytes than its payload or
                   // decode into more than it declares: stop it there.
                   if (task.bytes.size() > task.original_size) task.overflow = true;
                   const bool retire = task.overflow || d.overrun();
                   matches.update(ids[i], r.symbol, retire || positions[i] + 1 == lengths[ids[i]]);
                   next[i] = retire ? kRetireChunk : r.symbol;
                 }
               });
  for (std::size_t i = first; i < last; ++i) tasks[i].overrun = decoders[i - first].overrun();
}

}  // namespace lmzip

// One step's coding tables: the network's, with frequency added to a few
// symbols by the context counts and then by the match models. The mixed
// table is the network's plus a sparse list of boosts, so the network's
// table never leaves the predictor (a GPU keeps it in device memory): only
// the ranges of the boosted symbols and of the coded one are read.
#pragma once
#include <cstdint>
#include <vector>

#include "adapt/context_counts.h"
#include "adapt/match_model.h"
#include "model/predictor.h"

namespace lmzip {

class TableMixer {
 public:
  // Chunk i of the run, as MatchModels takes it.
  explicit TableMixer(const std::vector<MatchModels::Chunk>& chunks);
  // The most symbols a row of a chunk of this mode boosts: its counts'
  // candidates and a match's prediction.
  static std::size_t max_boosted(ChunkMode mode);

  // After predictor.advance() for a step (rows in ascending chunk order):
  // finds each row's boosted symbols and their boosts.
  void prepare(Predictor& predictor, const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n);
  // Row i's mixed total.
  std::uint64_t total(std::size_t i) const { return totals_[i]; }
  // A target in row i's mixed table, mapped to the network's table: a target
  // in a boosted symbol's range maps to that symbol's lowest.
  std::uint64_t network_target(std::size_t i, std::uint64_t target) const;
  // Row i's range in the mixed table, given the range in the network's.
  SymbolRange mixed(std::size_t i, const SymbolRange& network) const;
  // After row i coded the symbol of `mixed` (its range in the mixed table);
  // `last`: the chunk's last symbol.
  void update(std::size_t i, const SymbolRange& mixed, bool last);
  // After every row of the step is updated; splits work between the
  // predictor's threads.
  void end_step(Predictor& predictor, const std::uint32_t* ids, std::size_t n);
  // Chunk `to` goes on from where chunk `from` is (ContextCounts::resume_from).
  void resume_from(std::uint32_t from, std::uint32_t to) {
    matches_.resume_from(from, to);
    counts_.resume_from(from, to);
  }

 private:
  static constexpr std::size_t kMaxBoosted = ContextCounts::kMaxCandidates + 1;
  struct Boosted {
    std::uint32_t symbol = 0;
    std::uint32_t freq = 0;   // in the network's table
    std::uint64_t below = 0;  // in the network's table
    std::uint64_t boost = 0;
  };
  const Boosted* row(std::size_t i) const { return &boosted_[i * kMaxBoosted]; }

  MatchModels matches_;
  ContextCounts counts_;
  std::vector<Boosted> boosted_;  // row i: kMaxBoosted slots, sizes_[i] used, by symbol
  std::vector<std::uint16_t> sizes_;
  static_assert(kMaxBoosted <= 0xFFFF, "sizes_ holds a row's count of boosted symbols");
  std::vector<std::uint64_t> network_totals_, totals_;
  std::vector<std::uint32_t> column_;  // the symbols asked of the predictor, `columns` a row
  std::vector<SymbolRange> ranges_;
};

}  // namespace lmzip

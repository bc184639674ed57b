// The per-frame adaptive models of one lock-step run, behind one interface:
// the table mixer (context counts and matches boost symbols of the network's
// table) and the output adaptation (a learned term in the network's logits).
// Which of them a chunk uses is its recipe's (format/chunk_recipe.h). The
// chunk coder drives a step as: predictor.advance(), prepare(), then per row
// mixed() / network_target() and update(), then end_step().
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "adapt/output_adaptation.h"
#include "adapt/table_mixer.h"
#include "model/predictor.h"

namespace lmzip {

// What a run of chunks of these modes asks of a predictor.
PredictorNeeds needs_of(const std::vector<ChunkMode>& modes);
// Whether a network of this width can run modes that adapt its output.
bool can_adapt_output(std::uint32_t width);

class FrameModels {
 public:
  using Chunk = MatchModels::Chunk;
  // Chunk i of the run; attaches the output adaptation to `predictor` for the
  // run's lifetime when a chunk's recipe adapts.
  FrameModels(Predictor& predictor, const std::vector<Chunk>& chunks);
  ~FrameModels();
  FrameModels(const FrameModels&) = delete;
  FrameModels& operator=(const FrameModels&) = delete;

  // The memory the per-frame models of a run of these chunks take at most, in
  // bytes, for a network of this vocabulary and width: tables sized by the
  // declared symbol counts, and the histories as the symbols come.
  static std::size_t memory_bytes(const std::vector<Chunk>& chunks, std::uint32_t vocab_size, std::uint32_t width);

  // Chunk `chunk` starts in predictor slot `slot`.
  void admitted(std::uint32_t slot, std::uint32_t chunk);
  // After predictor.advance() for a step (rows in ascending chunk order).
  void prepare(const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n) {
    mixer_.prepare(predictor_, ids, positions, n);
  }
  std::uint64_t total(std::size_t i) const { return mixer_.total(i); }
  std::uint64_t network_target(std::size_t i, std::uint64_t target) const {
    return mixer_.network_target(i, target);
  }
  SymbolRange mixed(std::size_t i, const SymbolRange& network) const { return mixer_.mixed(i, network); }
  void update(std::size_t i, const SymbolRange& mixed, bool last) { mixer_.update(i, mixed, last); }
  // After every row of the step is updated; row i coded symbols[i].
  void end_step(const std::uint32_t* ids, std::size_t n, const std::uint32_t* symbols);

  // Whether frames of one chunk of a and of b symbols (of one mode) get
  // tables of one size, so that one can go on from the other.
  static bool same_table_sizes(std::uint32_t a, std::uint32_t b);
  // Chunk `to`, the only chunk of its frame, admitted and at position 0, goes
  // on from where chunk `from`, the only chunk of its frame, is: to's frame
  // takes what from's has learned (counts, matches, output adaptation), so
  // its tables are those of a chunk that coded from's symbols first
  // (std::invalid_argument unless same_table_sizes() and one mode).
  void resume_from(std::uint32_t from, std::uint32_t to);

 private:
  Predictor& predictor_;
  const std::vector<Chunk>& chunks_;
  TableMixer mixer_;
  std::optional<OutputAdaptation> adaptation_;  // one matrix per adapting frame
};

}  // namespace lmzip

// The model as a measure: the code length of texts under a model and level,
// without writing any output (lmzip ncd, classify and score). Each text is
// coded as compress() would code a file of its own (chunks of the level's
// size, frames of up to kFrameStreams chunks, the level's chunk mode and its
// per-frame models), and its length is the ideal one: the sum over its
// symbols of -log2 of the symbol's share of the mixed table, the length the
// range coder reaches within 0.1% before its flush bytes and the container's
// headers. Many texts run in lock-step through one predictor; a text's
// length depends only on its bytes, the model and the level, never on the
// texts beside it, the batch, the thread count or the device.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/chunk_recipe.h"
#include "lmzip/lmzip.h"
#include "model/backend.h"
#include "model/model_file.h"
#include "tokenize/tokenizer.h"

namespace lmzip {

class CodeLengthEngine {
 public:
  // Loads the model of options' level (or -m); Error(ModelMissing or
  // ModelInvalid) as compress().
  explicit CodeLengthEngine(const CompressOptions& options);
  ~CodeLengthEngine();

  const ModelInfo& model() const { return info_; }

  // bits[i]: the ideal code length of texts[i] coded alone. With
  // symbol_bits, also each text's symbols: (bytes of the symbol, its bits),
  // in order. `done(frames_finished)`, if given, is called after each run (a
  // text of more than one frame counts each).
  struct SymbolBits {
    std::uint32_t bytes;
    double bits;
  };
  std::vector<double> bits(const std::vector<std::string>& texts,
                           std::vector<std::vector<SymbolBits>>* symbol_bits = nullptr,
                           const std::function<void(std::size_t)>& done = {});

  // The texts a[i] + b[j] (joined without a separator), for every i and j,
  // coded alone, each text tokenized on its own (a chunk across the two holds
  // a[i]'s symbols, then b[j]'s): out[i * b.size() + j]. A pair that fits one
  // chunk goes on from a[i]'s context, computed once for many pairs (the same
  // length as coding the pair whole); pairs are made a run at a time, so the
  // memory of the joined texts stays bounded.
  std::vector<double> pair_bits(const std::vector<std::string>& a, const std::vector<std::string>& b,
                                const std::function<void(std::size_t, std::size_t)>& progress = {});
  // false: pair_bits() codes every pair whole (what the resumed lengths are
  // checked against).
  void set_resume_pairs(bool resume) { resume_pairs_ = resume; }

 private:
  struct Unit;  // one frame of one text
  void run(std::vector<Unit>& units, std::size_t first, std::size_t last, bool keep_symbol_bits);
  // bits(), with each text tokenized apart on either side of boundaries[i]
  // (none where boundaries is shorter).
  std::vector<double> bits(const std::vector<std::string>& texts, const std::vector<std::size_t>& boundaries,
                           std::vector<std::vector<SymbolBits>>* symbol_bits,
                           const std::function<void(std::size_t)>& done);
  // Pairs pairs[0, count) (i * b_count + j, ascending) of pair_bits(), of
  // symbols ta[i] then tb[j], each from ta[i]'s context: out[pair].
  void resumed_run(const std::vector<std::vector<std::uint32_t>>& ta, const std::vector<std::vector<std::uint32_t>>& tb,
                   std::size_t b_count, const std::size_t* pairs, std::size_t count, std::vector<double>& out);
  std::size_t frame_bytes() const;  // of the frames compress() cuts

  CompressOptions options_;
  ModelInfo info_;
  ModelFile model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  PredictorFactory backends_;
  std::unique_ptr<Predictor> predictor_;
  ChunkMode mode_ = ChunkMode::CodedFrameCounted;
  std::size_t chunk_bytes_ = 0, smallest_chunk_bytes_ = 0;
  std::uint64_t limit_ = 0;
  bool resume_pairs_ = true;
};

}  // namespace lmzip

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
  // coded alone: out[i * b.size() + j]. Pairs are made a run at a time, so
  // the memory of the joined texts stays bounded.
  std::vector<double> pair_bits(const std::vector<std::string>& a, const std::vector<std::string>& b,
                                const std::function<void(std::size_t, std::size_t)>& progress = {});

 private:
  struct Unit;  // one frame of one text
  void run(std::vector<Unit>& units, std::size_t first, std::size_t last, bool keep_symbol_bits);

  CompressOptions options_;
  ModelInfo info_;
  ModelFile model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  PredictorFactory backends_;
  std::unique_ptr<Predictor> predictor_;
  ChunkMode mode_ = ChunkMode::CodedFrameCounted;
  std::size_t chunk_bytes_ = 0, smallest_chunk_bytes_ = 0;
  std::uint64_t limit_ = 0;
};

}  // namespace lmzip

// The integer network of docs/model-format.md, on the CPU.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "model/model_file.h"
#include "model/predictor.h"

namespace lmzip {

// Plain loops, one stream, obviously right and slow: the definition the fast
// paths are tested against.
class ReferenceNetwork {
 public:
  explicit ReferenceNetwork(const ModelFile& model);
  void reset();
  // Feeds symbol (BOS == vocab_size first) and writes the next table to freqs[V].
  void step(std::uint32_t symbol, std::uint32_t* freqs);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The fast CPU predictor: exact int8 GEMMs (model/int8_gemm.h), integer glue
// in fused loops. Runs the model's self-test first and
// throws std::runtime_error if it fails.
// The digest of the tables `predictor` gives in slot 0 for BOS and then the
// model's self-test symbols (docs/model-format.md, "Self-test"). Resets slot 0
// before and after.
Sha256Digest selftest_digest(Predictor& predictor, const ModelFile& model);

// The model must outlive the predictor.
std::unique_ptr<Predictor> make_cpu_predictor(const ModelFile& model, std::uint32_t max_streams);
// The memory make_cpu_predictor(model, max_streams) allocates, in bytes, with
// the buffers its steps fill (an estimate from the layout; tests/model's
// PredictorFactory.BytesMatchWhatACpuPredictorAllocates holds it to what is allocated).
std::size_t cpu_predictor_bytes(const ModelFile& model, std::uint32_t max_streams);

}  // namespace lmzip

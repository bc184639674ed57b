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

// The fast CPU predictor: GEMMs in libtorch (float32 over integer values,
// exact), integer glue in fused loops. Runs the model's self-test first and
// throws std::runtime_error if it fails.
// The digest of the tables `predictor` gives in slot 0 for BOS and then the
// model's self-test symbols (docs/model-format.md, "Self-test"). Resets slot 0
// before and after.
Sha256Digest selftest_digest(Predictor& predictor, const ModelFile& model);

// The model must outlive the predictor.
std::unique_ptr<Predictor> make_cpu_predictor(const ModelFile& model, std::uint32_t max_streams);

// Threads each GEMM may use (ATen's and MKL's pools, and OpenBLAS when it is
// the BLAS in use). With several worker groups, one thread per GEMM keeps the
// groups from fighting over the cores. Returns false if OpenBLAS is not found.
bool set_cpu_gemm_threads(int threads);

}  // namespace lmzip

// libFuzzer target for the model-file reader (docs/model-format.md):
// ModelFile::parse on arbitrary bytes must return a model or throw
// std::runtime_error; any other exception, a crash, a sanitizer report or an
// allocation over -malloc_limit_mb is a bug. A file that parses must
// serialize back byte for byte (each model has one encoding), so the reader
// never accepts something the writer would not produce.
//
// Then, for an accepted file, the network itself: whatever weights the
// reader accepts, the integer arithmetic must stay defined (UBSan checks the
// int32/int64 overflow bounds docs/model-format.md claims) and the fast CPU
// predictor must agree bit for bit with the reference network: the self-test
// digest is recomputed with the reference and must pass on the CPU backend.
//
// Build and run: tests/fuzz/run.sh model_file SECONDS (docs/reliability.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "model/model_file.h"
#include "model/network.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lmzip::ModelFile model;
  try {
    model = lmzip::ModelFile::parse(data, size);
  } catch (const std::runtime_error&) {
    return 0;
  }
  const std::vector<std::uint8_t> rewritten = model.serialize();
  if (rewritten != std::vector<std::uint8_t>(data, data + size)) std::abort();

  lmzip::fill_selftest(model);  // the reference network's tables
  try {
    lmzip::make_cpu_predictor(model, 1);  // runs the self-test on the CPU backend
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "CPU predictor disagrees with the reference: %s\n", e.what());
    std::abort();
  }
  return 0;
}

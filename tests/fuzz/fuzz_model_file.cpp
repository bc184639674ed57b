// libFuzzer target for the model-file reader (docs/model-format.md):
// ModelFile::parse on arbitrary bytes must return a model or throw
// std::runtime_error; any other exception, a crash, a sanitizer report or an
// allocation over -malloc_limit_mb is a bug. A file that parses must
// serialize back byte for byte (each model has one encoding), so the reader
// never accepts something the writer would not produce.
//
// Build and run: tests/fuzz/run.sh model_file SECONDS (docs/reliability.md).
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "model/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lmzip::ModelFile model;
  try {
    model = lmzip::ModelFile::parse(data, size);
  } catch (const std::runtime_error&) {
    return 0;
  }
  const std::vector<std::uint8_t> rewritten = model.serialize();
  if (rewritten != std::vector<std::uint8_t>(data, data + size)) std::abort();
  return 0;
}

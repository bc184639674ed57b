// `lmzip derive`: writes the model that model/derive_window.h derives (another
// attention window) to a new file.
#pragma once
#include <cstdint>
#include <string>

namespace lmzip::cli {

struct DeriveOptions {
  std::string input, output;
  std::string name;  // empty: the input's
  std::uint32_t window = 0;
};

// Writes the input model with `window` and `name` to output (which must not
// exist), its self-test recomputed. Throws std::runtime_error with the reason.
void derive_model(const DeriveOptions& options);

}  // namespace lmzip::cli

// `lmzip derive`: a copy of a model file with another attention window. The
// weights do not depend on the window (ALiBi), so a shorter one trades a
// little compression for speed without training (models/fast.md).
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

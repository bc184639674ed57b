// `lmzip derive`: a model file with another attention window. The weights do
// not depend on the window (ALiBi), so a shorter one trades a little
// compression for speed without training (models/fast.md). The CLI's one way
// into the model module (tests/layering.sh).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

// The bytes of the model file at model_path with `window` and, unless empty,
// `name`, its description noting the cut and its self-test recomputed.
// Throws std::runtime_error for an unreadable model or an invalid window.
std::vector<std::uint8_t> derive_window(const std::string& model_path, std::uint32_t window, const std::string& name);

}  // namespace lmzip

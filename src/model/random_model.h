// Untrained models from a fixed-seed generator, for tests, benchmarks and the
// fuzz corpus: the same seed gives the same file on every platform.
#pragma once
#include <cstdint>

#include "model/model_file.h"

namespace lmzip {

// Weights scaled so that the network's activations stay in a healthy range;
// the byte tokenizer when config.vocab_size is 256, otherwise the 256 bytes
// (as many as fit) followed by random 2- and 3-byte pieces. Fills the
// self-test. Throws std::runtime_error for an invalid config.
ModelFile random_model(const ModelConfig& config, std::uint64_t seed);

}  // namespace lmzip

// The model shapes the tests run on. Tests that pin digests depend on these
// values: changing one changes the models built from it.
#pragma once
#include <cstdint>

#include "model/model_file.h"

namespace lmzip::testing {

// Fields in ModelConfig's order:
//   vocab_size, width, layers, heads, kv_heads, head_dim, ffn, window, chunk_bytes
static_assert(sizeof(ModelConfig) == 9 * sizeof(std::uint32_t), "a row below names every field");

// Two layers, grouped query heads: every part of the network does real work,
// yet the reference network runs it in milliseconds.
inline ModelConfig small_config() { return {256, 64, 2, 4, 2, 16, 128, 32, 65536}; }

// One narrow layer, for tests that run many steps end to end (the engine's
// round trips, training runs).
inline ModelConfig tiny_config() { return {256, 32, 1, 2, 1, 16, 64, 16, 4096}; }

// The smallest network the format allows, so that a step costs microseconds
// and a fuzzer spends its time in the decoder, not in matrix products.
inline ModelConfig smallest_config(std::uint32_t vocab_size) { return {vocab_size, 8, 1, 2, 1, 4, 8, 8, 1024}; }

}  // namespace lmzip::testing

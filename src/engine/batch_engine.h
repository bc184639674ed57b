// Steps many independent chunks through one predictor in lock-step: one
// symbol of every active chunk per step, so one matrix product serves them all.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/predictor.h"

namespace lmzip {

// Called once per symbol position of a chunk with the model's frequency table
// (vocab_size entries) for that position; returns the symbol at that position
// (the encoder knows it, the decoder decodes it).
using SymbolStep = std::function<std::uint32_t(std::size_t chunk, std::uint32_t position, const std::uint32_t* freqs)>;

// Runs chunks 0..lengths.size()-1, chunk i for lengths[i] symbols. Up to
// predictor.max_streams() chunks run at once; a finished chunk's slot goes to
// the next waiting one. The tables a chunk sees do not depend on which other
// chunks run beside it or in which slot.
void run_lockstep(Predictor& predictor, const std::vector<std::uint32_t>& lengths, const SymbolStep& step);

}  // namespace lmzip

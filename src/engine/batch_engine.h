// Steps many independent chunks through one predictor in lock-step: one
// symbol of every active chunk per step, so one matrix product serves them all.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "model/predictor.h"

namespace lmzip {

// Returned for a row by a BatchStep to retire its chunk before its length
// (a decoder that found the chunk corrupt).
constexpr std::uint32_t kRetireChunk = std::numeric_limits<std::uint32_t>::max();

// Called once per step, right after predictor.advance(), for the `count` rows
// of that step: row i is chunk chunks[i] at symbol position positions[i]. It
// takes what it needs from the predictor's coding interface and writes each
// row's symbol at that position (the encoder knows it, the decoder decodes
// it) to next[i], or kRetireChunk.
using BatchStep = std::function<void(const std::uint32_t* chunks, const std::uint32_t* positions,
                                     std::size_t count, std::uint32_t* next)>;

// Runs chunks 0..lengths.size()-1, chunk i for lengths[i] symbols. Up to
// predictor.max_streams() chunks run at once; a finished chunk's slot goes to
// the next waiting one. The tables a chunk sees do not depend on which other
// chunks run beside it or in which slot.
// admitted(slot, chunk), if given, runs when a chunk takes a slot (before its
// first step). first_inputs, if given, is what each chunk's first step feeds
// in place of bos(): a chunk that goes on from a context admitted() loaded
// into its slot (Predictor::load_slot) feeds the symbol that context ends with.
void run_lockstep(Predictor& predictor, const std::vector<std::uint32_t>& lengths, const BatchStep& step,
                  const std::function<void(std::uint32_t, std::uint32_t)>& admitted = {},
                  const std::vector<std::uint32_t>* first_inputs = nullptr);

}  // namespace lmzip

// One batch stepped by several predictors, each on a thread of its own: the
// engine sees a single predictor, so every chunk of a frame runs in one
// lock-step (frame matches need that) however many threads share the work.
#pragma once
#include <memory>
#include <vector>

#include "model/predictor.h"

namespace lmzip {

// Slot s is slot s / parts.size() of parts[s % parts.size()]. The tables are
// the parts' own, so the same as one predictor's (predictor.h).
std::unique_ptr<Predictor> make_parallel_predictor(std::vector<std::unique_ptr<Predictor>> parts);

}  // namespace lmzip

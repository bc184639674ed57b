#include "adapt/frame_models.h"

#include <algorithm>

namespace lmzip {

PredictorNeeds needs_of(const std::vector<ChunkMode>& modes) {
  PredictorNeeds needs;
  for (ChunkMode m : modes) {
    needs.adapts_output = needs.adapts_output || recipe(m).adapts_output;
    if (is_coded(m)) needs.ranges_per_row = std::max(needs.ranges_per_row, TableMixer::max_boosted(m));
  }
  return needs;
}

bool can_adapt_output(std::uint32_t width) { return width <= OutputAdaptation::kMaxWidth; }

FrameModels::FrameModels(Predictor& predictor, const std::vector<Chunk>& chunks)
    : predictor_(predictor), chunks_(chunks), mixer_(chunks) {
  std::uint32_t frames = 0;
  for (const auto& c : chunks)
    if (recipe(c.mode).adapts_output) frames = std::max(frames, c.frame + 1);
  if (frames == 0) return;
  adaptation_.emplace(predictor.vocab_size(), frames, predictor.max_streams());
  predictor.attach(&*adaptation_);
}

FrameModels::~FrameModels() {
  if (adaptation_) predictor_.attach(nullptr);
}

void FrameModels::admitted(std::uint32_t slot, std::uint32_t chunk) {
  if (!adaptation_) return;
  const Chunk& c = chunks_[chunk];
  adaptation_->assign(slot, recipe(c.mode).adapts_output ? static_cast<std::int32_t>(c.frame) : -1);
}

void FrameModels::end_step(const std::uint32_t* ids, std::size_t n, const std::uint32_t* symbols) {
  mixer_.end_step(predictor_, ids, n);
  if (!adaptation_) return;
  predictor_.learn(symbols);
  predictor_.for_row_ranges(predictor_.vocab_size(), [this](std::size_t first, std::size_t last) {
    adaptation_->apply(static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(last));
  });
  adaptation_->end_step();
}

}  // namespace lmzip

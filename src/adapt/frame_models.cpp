#include "adapt/frame_models.h"

#include <algorithm>
#include <stdexcept>

namespace lmzip {

PredictorNeeds needs_of(const std::vector<ChunkMode>& modes) {
  PredictorNeeds needs;
  for (ChunkMode m : modes) {
    needs.adapts_output = needs.adapts_output || recipe(m).adapts_output;
    if (is_network_coded(m)) needs.ranges_per_row = std::max(needs.ranges_per_row, TableMixer::max_boosted(m));
  }
  return needs;
}

bool can_adapt_output(std::uint32_t width) { return width <= OutputAdaptation::kMaxWidth; }

std::size_t FrameModels::memory_bytes(const std::vector<Chunk>& chunks, std::uint32_t vocab_size,
                                      std::uint32_t width) {
  struct FrameNeeds {
    std::uint64_t symbols = 0;
    ContextCounts::Shape counts;
    bool adapts = false;
  };
  std::vector<FrameNeeds> frames;
  std::size_t bytes = 0;
  for (const Chunk& c : chunks) {
    if (frames.size() <= c.frame) frames.resize(c.frame + 1);
    FrameNeeds& f = frames[c.frame];
    f.symbols += c.symbol_count;
    if (is_counted(c.mode)) f.counts = counts_shape(recipe(c.mode).counts);
    f.adapts = f.adapts || recipe(c.mode).adapts_output;
    // A chunk's match table (at most 64 KiB) and its history, 2 bytes a
    // symbol in a vector that may hold twice what it uses.
    if (recipe(c.mode).matches != MatchScope::None) bytes += (std::size_t{1} << 16) + std::size_t{c.symbol_count} * 4;
  }
  for (const FrameNeeds& f : frames) {
    if (f.symbols == 0) continue;
    bytes += MatchModels::frame_table_bytes(f.symbols);
    if (f.counts.orders > 0) bytes += ContextCounts::table_bytes(f.counts, f.symbols);
    if (f.adapts) bytes += OutputAdaptation::matrix_bytes(vocab_size, width);
  }
  return bytes;
}

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

bool FrameModels::same_table_sizes(std::uint32_t a, std::uint32_t b) {
  for (const ContextCounts::Shape& shape : {ContextCounts::kNarrow, ContextCounts::kWide, ContextCounts::kWideLarge})
    if (ContextCounts::table_bytes(shape, a) != ContextCounts::table_bytes(shape, b)) return false;
  return MatchModels::frame_table_bytes(a) == MatchModels::frame_table_bytes(b) &&
         MatchModel::table_bytes(a) == MatchModel::table_bytes(b);
}

void FrameModels::resume_from(std::uint32_t from, std::uint32_t to) {
  const Chunk &a = chunks_.at(from), &b = chunks_.at(to);
  if (a.mode != b.mode || !same_table_sizes(a.symbol_count, b.symbol_count))
    throw std::invalid_argument("frame models: resuming a chunk of another mode or size");
  mixer_.resume_from(from, to);
  if (adaptation_ && recipe(a.mode).adapts_output) adaptation_->copy_group(a.frame, b.frame);
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

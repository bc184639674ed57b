// What a run's chunk modes ask of a predictor comes from their recipes.
#include "adapt/frame_models.h"

#include <gtest/gtest.h>

namespace lmzip {
namespace {

TEST(FrameModels, NeedsFollowTheRecipes) {
  for (const ChunkRecipe& r : kChunkRecipes) {
    const PredictorNeeds needs = needs_of({r.mode});
    EXPECT_EQ(needs.adapts_output, r.adapts_output) << r.name;
    const ContextCounts::Shape shape = counts_shape(r.counts);
    const std::size_t boosted =
        r.coder == ChunkCoder::Network ? static_cast<std::size_t>(shape.orders * shape.entries) + (r.matches != MatchScope::None) : 0;
    EXPECT_EQ(needs.ranges_per_row, std::max<std::size_t>(boosted, 1)) << r.name;
  }
  // A run of several modes needs what the most demanding asks.
  const PredictorNeeds both = needs_of({ChunkMode::CodedFrameCounted, ChunkMode::CodedAdapted});
  EXPECT_TRUE(both.adapts_output);
  EXPECT_EQ(both.ranges_per_row, TableMixer::max_boosted(ChunkMode::CodedAdapted));
  EXPECT_EQ(TableMixer::max_boosted(ChunkMode::CodedAdapted),
            static_cast<std::size_t>(ContextCounts::kMaxCandidates) + 1);
}

TEST(FrameModels, OnlyNetworksUpToTheLimitAdapt) {
  EXPECT_TRUE(can_adapt_output(OutputAdaptation::kMaxWidth));
  EXPECT_FALSE(can_adapt_output(OutputAdaptation::kMaxWidth + 1));
}

}  // namespace
}  // namespace lmzip

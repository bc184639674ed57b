#include "adapt/match_model.h"

#include <gtest/gtest.h>

#include <random>

namespace lmzip {
namespace {

TEST(MatchModel, PredictsWhatFollowedTheSameContextBefore) {
  MatchModel m(100);
  const std::vector<std::uint32_t> seq = {5, 6, 7, 8, 9, 1, 2, 5, 6, 7};
  for (auto s : seq) {
    if (m.predicts()) m.boost({0, 100, 1, 0});
    m.update(s);
  }
  ASSERT_TRUE(m.predicts());
  EXPECT_EQ(m.predicted(), 8u);
  m.boost({0, 100, 1, 0});
  m.update(8);
  ASSERT_TRUE(m.predicts());
  EXPECT_EQ(m.predicted(), 9u);
  m.boost({0, 100, 1, 0});
  m.update(3);  // a miss ends the match
  EXPECT_FALSE(m.predicts());
}

TEST(MatchModel, LearnsToTrustMatchesThatHit) {
  MatchModel m(5000);
  std::mt19937 rng(3);
  std::vector<std::uint32_t> part(200);
  for (auto& s : part) s = rng() % 1000;
  std::uint64_t last_boost = 0;
  for (int rep = 0; rep < 5; ++rep)
    for (auto s : part) {
      if (m.predicts()) last_boost = m.boost({0, 1u << 20, 16, 0});
      m.update(s);
    }
  // After many hits the predicted symbol gets almost all of the mixed table.
  EXPECT_GT(last_boost, std::uint64_t{1} << 24);
}

TEST(MatchModel, NeverBoostsPastTheCoderLimit) {
  MatchModel m(5000);
  for (int rep = 0; rep < 50; ++rep)
    for (std::uint32_t s = 0; s < 20; ++s) {
      if (m.predicts()) {
        const std::uint64_t total = std::uint64_t{1} << 32;
        EXPECT_LE(m.boost({0, total - 1, 1, 0}) + total - 1, total);
      }
      m.update(s);
    }
}

}  // namespace
}  // namespace lmzip

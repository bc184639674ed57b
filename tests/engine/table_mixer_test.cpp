#include "engine/table_mixer.h"

#include <gtest/gtest.h>

#include <random>

#include "coder/range_coder.h"

namespace lmzip {
namespace {

// Host tables that depend on the slot's last symbol, unrelated to the text
// the tests code: a network that has not learned the file's statistics.
class OrderOnePredictor : public Predictor {
 public:
  std::uint32_t vocab_size() const override { return kVocab; }
  std::uint32_t max_streams() const override { return 8; }
  void reset(std::uint32_t) override {}
  void step(const std::uint32_t*, const std::uint32_t* symbols, std::size_t count, std::uint32_t* freqs) override {
    for (std::size_t i = 0; i < count; ++i)
      for (std::uint32_t s = 0; s < kVocab; ++s) freqs[i * kVocab + s] = 1 + (symbols[i] * 31 + s * 17) % 200;
  }
  static constexpr std::uint32_t kVocab = 40;
};

// Symbols whose next depends on the last: each has `followers` of them, at random.
std::vector<std::uint32_t> markov_text(std::size_t n, unsigned seed, std::uint32_t followers = 3) {
  std::mt19937 rng(seed);
  std::vector<std::uint32_t> out = {1};
  while (out.size() < n) {
    out.push_back((out.back() * 7 + rng() % followers) % OrderOnePredictor::kVocab);
  }
  return out;
}

// Codes `text` as one chunk per row in lock-step, checking at every step
// that the mixed table is a valid table and that every target of it maps
// back to its symbol; returns the ideal bits.
double code(const std::vector<std::vector<std::uint32_t>>& texts, Matching matching) {
  OrderOnePredictor predictor;
  std::vector<MatchModels::Chunk> chunks;
  for (const auto& t : texts) chunks.push_back({0, static_cast<std::uint32_t>(t.size()), matching});
  TableMixer mixer(chunks);
  const std::size_t n = texts.size();
  std::vector<std::uint32_t> ids(n), positions(n, 0), slots(n), fed(n), column(n);
  for (std::uint32_t i = 0; i < n; ++i) ids[i] = slots[i] = i;
  std::vector<SymbolRange> ranges(n);
  double bits = 0;
  bool boosted = false;
  for (std::uint32_t t = 0; t < texts[0].size(); ++t) {
    for (std::size_t i = 0; i < n; ++i) {
      positions[i] = t;
      fed[i] = t == 0 ? predictor.bos() : texts[i][t - 1];
    }
    predictor.advance(slots.data(), fed.data(), n);
    mixer.prepare(predictor, ids.data(), positions.data(), n);
    std::vector<std::uint64_t> next_below(n, 0);
    for (std::uint32_t s = 0; s < OrderOnePredictor::kVocab; ++s) {
      std::fill(column.begin(), column.end(), s);
      predictor.ranges_of(column.data(), ranges.data());
      for (std::size_t i = 0; i < n; ++i) {
        const SymbolRange m = mixer.mixed(i, ranges[i]);
        EXPECT_EQ(m.below, next_below[i]) << "step " << t << " symbol " << s;
        EXPECT_GE(m.freq, ranges[i].freq);
        EXPECT_EQ(m.total, mixer.total(i));
        const bool raised = m.freq > ranges[i].freq;
        for (std::uint64_t target : {m.below, m.below + m.freq / 2, m.below + m.freq - 1}) {
          const std::uint64_t back = mixer.network_target(i, target);
          EXPECT_TRUE(back >= ranges[i].below && back < ranges[i].below + ranges[i].freq)
              << "step " << t << " symbol " << s;
        }
        boosted = boosted || raised;
        next_below[i] = m.below + m.freq;
      }
    }
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(next_below[i], mixer.total(i));
    for (std::size_t i = 0; i < n; ++i) column[i] = texts[i][t];
    predictor.ranges_of(column.data(), ranges.data());
    for (std::size_t i = 0; i < n; ++i) {
      const SymbolRange m = mixer.mixed(i, ranges[i]);
      bits += ideal_bits(m.freq, m.total);
      mixer.update(i, m, t + 1 == texts[i].size());
    }
    mixer.end_step(ids.data(), n);
  }
  EXPECT_EQ(boosted, matching != Matching::None);
  return bits;
}

TEST(TableMixer, MixedTablesAreValidAndTargetsMapBack) {
  const std::vector<std::vector<std::uint32_t>> texts = {markov_text(300, 1), markov_text(300, 2),
                                                         markov_text(300, 3)};
  for (const Matching m :
       {Matching::None, Matching::Chunk, Matching::Frame, Matching::FrameCounts, Matching::FrameCountsWide})
    code(texts, m);
}

// The counts learn the three followers of each context that neither the
// network nor the last occurrence (the matches) knows.
TEST(TableMixer, CountsLearnWhatFollowsEachContext) {
  const std::vector<std::vector<std::uint32_t>> texts = {markov_text(2000, 4), markov_text(2000, 5)};
  const double frame = code(texts, Matching::Frame);
  const double counted = code(texts, Matching::FrameCounts);
  EXPECT_LT(counted, 0.6 * frame) << "frame matches " << frame << " bits, with counts " << counted;
}

// Contexts with more followers than mode 4 keeps (15): mode 5 keeps 31.
TEST(TableMixer, WideCountsKeepMoreFollowers) {
  const std::vector<std::vector<std::uint32_t>> texts = {markov_text(3000, 6, 24), markov_text(3000, 7, 24)};
  const double narrow = code(texts, Matching::FrameCounts);
  const double wide = code(texts, Matching::FrameCountsWide);
  EXPECT_LT(wide, 0.97 * narrow) << "mode 4 " << narrow << " bits, mode 5 " << wide;
}

TEST(TableMixer, AFrameCountsInOneShape) {
  const std::vector<MatchModels::Chunk> mixed = {{0, 10, Matching::FrameCounts}, {0, 10, Matching::FrameCountsWide}};
  EXPECT_THROW(TableMixer{mixed}, std::invalid_argument);
  const std::vector<MatchModels::Chunk> apart = {{0, 10, Matching::FrameCounts}, {1, 10, Matching::FrameCountsWide}};
  EXPECT_NO_THROW(TableMixer{apart});
}

}  // namespace
}  // namespace lmzip

#include "adapt/table_mixer.h"

#include <gtest/gtest.h>

#include <functional>
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
double code(const std::vector<std::vector<std::uint32_t>>& texts, ChunkMode matching) {
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
    mixer.end_step(predictor, ids.data(), n);
  }
  EXPECT_EQ(boosted, matching != ChunkMode::Coded);
  return bits;
}

TEST(TableMixer, MixedTablesAreValidAndTargetsMapBack) {
  const std::vector<std::vector<std::uint32_t>> texts = {markov_text(300, 1), markov_text(300, 2),
                                                         markov_text(300, 3)};
  for (const ChunkMode m :
       {ChunkMode::Coded, ChunkMode::CodedMatched, ChunkMode::CodedFrameMatched, ChunkMode::CodedFrameCounted, ChunkMode::CodedFrameCountedWide,
        ChunkMode::CodedFrameCountedLarge})
    code(texts, m);
}

// The counts learn the three followers of each context that neither the
// network nor the last occurrence (the matches) knows.
TEST(TableMixer, CountsLearnWhatFollowsEachContext) {
  const std::vector<std::vector<std::uint32_t>> texts = {markov_text(2000, 4), markov_text(2000, 5)};
  const double frame = code(texts, ChunkMode::CodedFrameMatched);
  const double counted = code(texts, ChunkMode::CodedFrameCounted);
  EXPECT_LT(counted, 0.6 * frame) << "frame matches " << frame << " bits, with counts " << counted;
}

// Contexts with more followers than mode 4 keeps (15): mode 5 keeps 31.
TEST(TableMixer, WideCountsKeepMoreFollowers) {
  const std::vector<std::vector<std::uint32_t>> texts = {markov_text(3000, 6, 24), markov_text(3000, 7, 24)};
  const double narrow = code(texts, ChunkMode::CodedFrameCounted);
  const double wide = code(texts, ChunkMode::CodedFrameCountedWide);
  EXPECT_LT(wide, 0.97 * narrow) << "mode 4 " << narrow << " bits, mode 5 " << wide;
}

// A frame of 64 rows of 4,200 random symbols (2^18 in all), rows 32..63
// repeating rows 0..31 3,000 steps later: 192,000 contexts an order come
// between a context and its repeat, more than mode 5's 2^17 buckets an order
// hold. Returns how often the repeats' followers are among the counts'.
// Counts all orders at once, as a predictor of one part does.
void count_at_once(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) { fn(0, n); }

// The hit rate on repeated random text; `split` gives end_step's ranges of orders.
double repeat_hit_rate(ContextCounts::Shape shape, const ContextCounts::RangeRunner& split = count_at_once) {
  constexpr std::size_t kRows = 64, kSymbols = 4200, kDelay = 3000;
  std::mt19937 rng(8);
  std::vector<std::vector<std::uint32_t>> texts(kRows, std::vector<std::uint32_t>(kSymbols));
  for (auto& t : texts)
    for (auto& s : t) s = rng() % 2000;
  for (std::size_t r = kRows / 2; r < kRows; ++r)
    std::copy(texts[r - kRows / 2].begin(), texts[r - kRows / 2].end() - kDelay, texts[r].begin() + kDelay);
  std::vector<ContextCounts::Chunk> chunks(kRows, {0, static_cast<std::uint32_t>(kSymbols), shape});
  ContextCounts counts(chunks);
  std::vector<std::uint32_t> ids(kRows), positions(kRows);
  for (std::uint32_t i = 0; i < kRows; ++i) ids[i] = i;
  std::uint32_t candidates[ContextCounts::kMaxCandidates];
  std::size_t hits = 0, repeats = 0;
  for (std::uint32_t t = 0; t < kSymbols; ++t) {
    std::fill(positions.begin(), positions.end(), t);
    counts.begin_step(ids.data(), kRows);
    counts.predict(positions.data(), 0, kRows);
    for (std::size_t i = 0; i < kRows; ++i) {
      const std::size_t k = counts.candidates(i, candidates);
      if (i >= kRows / 2 && t >= kDelay + ContextCounts::kMaxOrders) {
        hits += std::binary_search(candidates, candidates + k, texts[i][t]) ? 1 : 0;
        ++repeats;
      }
      counts.update(i, texts[i][t], 1, 2, 1);
    }
    counts.end_step(ids.data(), kRows, split);
  }
  return static_cast<double>(hits) / static_cast<double>(repeats);
}

// Mode 6's tables (2^18 buckets an order here) keep more of a large frame's
// contexts than mode 5's: measured 0.942 of the repeats found against 0.992.
TEST(TableMixer, LargeCountsKeepMoreContexts) {
  const double wide = repeat_hit_rate(ContextCounts::kWide);
  const double large = repeat_hit_rate(ContextCounts::kWideLarge);
  EXPECT_GT(large, 0.98) << "mode 6";
  EXPECT_GT(large, wide + 0.03) << "mode 5 " << wide << ", mode 6 " << large;
}

TEST(TableMixer, CountingOrdersApartChangesNothing) {
  // Order by order in any split, and the last range out of order: each
  // order's table sees the rows in the same order.
  const auto apart = [](std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
    fn(n / 2 + 1, n);
    for (std::size_t o = 0; o <= n / 2; ++o) fn(o, o + 1);
  };
  EXPECT_EQ(repeat_hit_rate(ContextCounts::kWideLarge, apart), repeat_hit_rate(ContextCounts::kWideLarge));
  EXPECT_EQ(repeat_hit_rate(ContextCounts::kNarrow, apart), repeat_hit_rate(ContextCounts::kNarrow));
}

TEST(TableMixer, AFrameCountsInOneShape) {
  const std::vector<MatchModels::Chunk> mixed = {{0, 10, ChunkMode::CodedFrameCounted}, {0, 10, ChunkMode::CodedFrameCountedWide}};
  EXPECT_THROW(TableMixer{mixed}, std::invalid_argument);
  const std::vector<MatchModels::Chunk> apart = {{0, 10, ChunkMode::CodedFrameCounted}, {1, 10, ChunkMode::CodedFrameCountedWide}};
  EXPECT_NO_THROW(TableMixer{apart});
  const std::vector<MatchModels::Chunk> wide_and_large = {{0, 10, ChunkMode::CodedFrameCountedWide},
                                                          {0, 10, ChunkMode::CodedFrameCountedLarge}};
  EXPECT_THROW(TableMixer{wide_and_large}, std::invalid_argument);
}

}  // namespace
}  // namespace lmzip

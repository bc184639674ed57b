// lmzip.h's "model as a measure": NCD, the kNN vote and its tie rule, the
// evaluation, and code lengths that match compress()'s ideal size and do not
// depend on the texts beside them or on threads.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "engine/code_length.h"
#include "lmzip/lmzip.h"

namespace lmzip {
namespace {

TEST(Ncd, Formula) {
  EXPECT_DOUBLE_EQ(ncd(150, 100, 80), (150.0 - 80.0) / 100.0);
  EXPECT_DOUBLE_EQ(ncd(150, 80, 100), (150.0 - 80.0) / 100.0);
  EXPECT_DOUBLE_EQ(ncd(0, 0, 0), 0.0);
  EXPECT_DOUBLE_EQ(ncd(100, 100, 0), 1.0);
}

TEST(Knn, NearestWithKOne) {
  EXPECT_EQ(knn_label({0.5, 0.2, 0.9}, {0, 1, 2}, 1), 1u);
}

TEST(Knn, EqualDistancesGoToTheFirstItem) {
  EXPECT_EQ(knn_label({0.3, 0.3}, {1, 0}, 1), 1u);
  EXPECT_EQ(knn_label({0.3, 0.3}, {0, 1}, 1), 0u);
}

TEST(Knn, MajorityWins) {
  // Nearest is label 0, but labels 1 hold two of three votes.
  EXPECT_EQ(knn_label({0.1, 0.2, 0.3, 0.9}, {0, 1, 1, 0}, 3), 1u);
}

TEST(Knn, TieGoesToTheLabelOfTheNearerNeighbour) {
  // k = 2: one vote each; label 2's neighbour is nearer.
  EXPECT_EQ(knn_label({0.4, 0.1, 0.8}, {0, 2, 1}, 2), 2u);
  // k = 4: two votes each for 0 and 1; 1's first neighbour (0.15) is nearer than 0's (0.2).
  EXPECT_EQ(knn_label({0.2, 0.15, 0.3, 0.25, 0.9}, {0, 1, 1, 0, 2}, 4), 1u);
  // The same with the items in another order: the same label.
  EXPECT_EQ(knn_label({0.9, 0.25, 0.3, 0.15, 0.2}, {2, 0, 1, 1, 0}, 4), 1u);
}

TEST(Knn, KLargerThanTheItems) { EXPECT_EQ(knn_label({0.5, 0.1, 0.2}, {3, 4, 3}, 10), 3u); }

TEST(Knn, BadInput) {
  EXPECT_THROW(knn_label({}, {}, 1), Error);
  EXPECT_THROW(knn_label({0.1}, {0}, 0), Error);
  EXPECT_THROW(knn_label({0.1, 0.2}, {0}, 1), Error);
}

TEST(Evaluate, Metrics) {
  // truth:     0 0 0 1 1 2
  // predicted: 0 0 1 1 0 0
  const Evaluation e = evaluate({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 0, 0}, 3);
  EXPECT_EQ(e.total, 6u);
  EXPECT_EQ(e.correct, 3u);
  EXPECT_DOUBLE_EQ(e.accuracy, 0.5);
  EXPECT_EQ(e.confusion[0][0], 2u);
  EXPECT_EQ(e.confusion[0][1], 1u);
  EXPECT_EQ(e.confusion[1][0], 1u);
  EXPECT_EQ(e.confusion[2][0], 1u);
  EXPECT_DOUBLE_EQ(e.precision[0], 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(e.recall[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(e.precision[1], 0.5);
  EXPECT_DOUBLE_EQ(e.recall[1], 0.5);
  EXPECT_TRUE(std::isnan(e.precision[2]));  // never predicted
  EXPECT_DOUBLE_EQ(e.recall[2], 0.0);
  EXPECT_EQ(e.support, (std::vector<std::size_t>{3, 2, 1}));
  EXPECT_EQ(e.predicted, (std::vector<std::size_t>{4, 2, 0}));
  EXPECT_THROW(evaluate({0}, {0, 1}, 2), Error);
  EXPECT_THROW(evaluate({0}, {3}, 2), Error);
}

CompressOptions fast_options(int threads) {
  CompressOptions o;
  o.models.explicit_path = std::string(LMZIP_SOURCE_DIR) + "/models/fast.lmzm";
  o.level = 1;
  o.threads = threads;
  o.device = "cpu";
  return o;
}

// 40 KB: several chunks of one frame at level 1 (chunks of 8 KiB and more).
std::string long_text() {
  std::string text;
  for (int i = 0; text.size() < 40000; ++i)
    text += "line " + std::to_string(i) + ": the value is " + std::to_string(i * 7919 % 1000) + "\n";
  return text;
}

std::vector<std::string> some_texts() {
  return {"The quick brown fox jumps over the lazy dog.\n",
          "int main(void) { return 0; }\n",
          "",
          "A game of ancient warfare: build cities, gather resources, and conquer your rivals.\n",
          std::string(3000, 'a') + " and then something else entirely\n",
          long_text()};
}

TEST(CodeLengths, MatchCompressIdealBits) {
  CodeLengths lengths(fast_options(1));
  const auto texts = some_texts();
  const std::vector<double> bits = lengths.bits(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::istringstream in(texts[i]);
    std::ostringstream out;
    const Stats stats = compress(in, out, fast_options(1));
    EXPECT_NEAR(bits[i], stats.ideal_bits, 1e-6 * (1 + stats.ideal_bits)) << "text " << i;
  }
  EXPECT_EQ(bits[2], 0.0);
}

TEST(CodeLengths, IndependentOfNeighboursAndThreads) {
  const auto texts = some_texts();
  CodeLengths one(fast_options(1)), two(fast_options(2));
  const std::vector<double> together = one.bits(texts);
  EXPECT_EQ(two.bits(texts), together);
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(one.bits({texts[i]})[0], together[i]);
}

TEST(CodeLengths, NcdMatrixAndLines) {
  CodeLengths lengths(fast_options(2));
  const std::vector<std::string> a = {"apple banana cherry\n", "for (int i = 0; i < n; ++i) sum += i;\n"};
  const std::vector<std::string> b = {"apple banana cherry date\n", "while (i < n) sum += i++;\n", "x"};
  const auto d = lengths.ncd_matrix(a, b);
  ASSERT_EQ(d.size(), 2u);
  ASSERT_EQ(d[0].size(), 3u);
  const std::vector<double> ca = lengths.bits(a), cb = lengths.bits(b);
  CodeLengthEngine whole(fast_options(1));
  whole.set_resume_pairs(false);
  const std::vector<double> cab = whole.pair_bits(a, b);
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < b.size(); ++j) {
      EXPECT_DOUBLE_EQ(d[i][j], ncd(cab[i * b.size() + j], ca[i], cb[j]));
      // Each text tokenized on its own: near the joined text's length.
      EXPECT_NEAR(cab[i * b.size() + j], lengths.bits({a[i] + b[j]})[0], 16.0);
    }
  EXPECT_LT(d[0][0], d[0][1]);  // fruit is nearer fruit than code
  EXPECT_LT(d[1][1], d[1][0]);

  const std::string text = "first line\nsecond line\n\nlast without newline";
  const auto lines = lengths.line_bits({text, ""});
  ASSERT_EQ(lines.size(), 2u);
  ASSERT_EQ(lines[0].size(), 4u);
  EXPECT_EQ(lines[0][0].bytes, 11u);
  EXPECT_EQ(lines[0][1].bytes, 12u);
  EXPECT_EQ(lines[0][2].bytes, 1u);
  EXPECT_EQ(lines[0][3].bytes, 20u);
  double sum = 0;
  for (const auto& l : lines[0]) sum += l.bits;
  EXPECT_NEAR(sum, lengths.bits({text})[0], 1e-9);
  EXPECT_TRUE(lines[1].empty());
}

// A pair that goes on from its first text's saved context (predictor slot and
// frame models) has the length of the pair coded whole, to the last bit, at
// a level with counts and matches and at one that also adapts the output,
// with one and two predictor parts (a context saved in one part and loaded
// in the other).
TEST(CodeLengths, ResumedPairsEqualPairsCodedWhole) {
  std::vector<std::string> a = {"The quick brown fox jumps over the lazy dog. The quick brown fox.\n",
                                "int main(void) { return 0; }\n", "", "x",
                                "abc abc abc abc abc abc abc abc abc abc abc abc abc abc\n"};
  std::vector<std::string> b = {"The lazy dog sleeps; the quick brown fox jumps over it again.\n",
                                "abc abc abc abc abc abc abc abc abc\n", "y", "",
                                std::string(3000, 'z'),
                                "int main(int argc, char** argv) { return argc; }\n"};
  for (const int level : {1, 5})
    for (const int threads : {1, 2}) {
      // At -1, pairs of two chunks (16 KiB and more), coded whole beside the others.
      if (level == 1 && b.size() == 6) b.push_back(long_text().substr(0, 17000));
      if (level == 5 && b.size() == 7) b.pop_back();
      CompressOptions options = fast_options(threads);
      options.level = level;
      options.models.explicit_path = std::string(LMZIP_SOURCE_DIR) + (level == 1 ? "/models/fast.lmzm" : "/models/default.lmzm");
      CodeLengthEngine resumed(options), whole(options);
      whole.set_resume_pairs(false);
      const std::vector<double> expected = whole.pair_bits(a, b);
      EXPECT_EQ(resumed.pair_bits(a, b), expected) << "level " << level << ", " << threads << " threads";
      ASSERT_EQ(expected.size(), a.size() * b.size());
      EXPECT_EQ(expected[2 * b.size() + 3], 0.0);
    }
}

}  // namespace
}  // namespace lmzip

// Output adaptation: its kernels agree with the portable loops, its updates
// do not depend on the order of rows or on how apply() is split, and a CPU
// predictor that learns a repeated sequence predicts it better.
#include "adapt/output_adaptation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "model/int8_gemm.h"
#include "model/model_file.h"
#include "model/network.h"
#include "model/predictor.h"
#include "model/random_model.h"
#include "../common/small_models.h"
#include "../model/predictor_checks.h"

namespace lmzip {
namespace {

// Odd sizes, so the kernels' tails and padding run.
constexpr std::uint32_t kVocab = 37, kWidth = 45, kSlots = 5;

struct Row {
  std::uint32_t slot, symbol;
  std::vector<std::uint32_t> table;
  std::vector<std::int8_t> x;
};

// Steps of rows with peaked random tables (some outputs far above the rest,
// as a network's are) and random x in [-127, 127].
std::vector<std::vector<Row>> random_steps(unsigned seed, int steps) {
  std::mt19937 rng(seed);
  std::vector<std::vector<Row>> out(steps);
  for (auto& step : out) {
    for (std::uint32_t s = 0; s < kSlots; ++s) {
      Row r;
      r.slot = s;
      r.symbol = rng() % kVocab;
      for (std::uint32_t o = 0; o < kVocab; ++o) r.table.push_back(1 + (rng() % 4 == 0 ? rng() % 100000 : rng() % 50));
      for (std::uint32_t j = 0; j < kWidth; ++j) r.x.push_back(static_cast<std::int8_t>(int(rng() % 255) - 127));
      step.push_back(r);
    }
  }
  return out;
}

// Runs the steps (slots 0..2 in frame 0, 3..4 in frame 1), applying each in
// `parts` ranges, then returns both frames' adjustments for `probe` rows.
std::vector<std::int32_t> learn(const std::vector<std::vector<Row>>& steps, std::uint32_t parts, bool reverse_rows,
                                const std::vector<std::int8_t>& probe) {
  OutputAdaptation a(kVocab, 2, kSlots);
  a.set_width(kWidth);
  for (std::uint32_t s = 0; s < kSlots; ++s) a.assign(s, s < 3 ? 0 : 1);
  for (const auto& step : steps) {
    std::vector<Row> rows = step;
    if (reverse_rows) std::reverse(rows.begin(), rows.end());
    for (const Row& r : rows) {
      const std::uint64_t total = std::accumulate(r.table.begin(), r.table.end(), std::uint64_t{0});
      a.record(r.slot, r.table.data(), total, r.symbol, r.x.data());
    }
    for (std::uint32_t k = 0; k < parts; ++k) a.apply(kVocab * k / parts, kVocab * (k + 1) / parts);
    a.end_step();
  }
  const std::size_t n = probe.size() / kWidth;
  std::vector<std::int32_t> out(2 * n * kVocab);
  a.adjustments(0, probe.data(), n, out.data());
  a.adjustments(1, probe.data(), n, out.data() + n * kVocab);
  return out;
}

std::vector<std::int8_t> probe_rows(std::size_t n) {
  std::mt19937 rng(77);
  std::vector<std::int8_t> x(n * kWidth);
  for (auto& v : x) v = static_cast<std::int8_t>(int(rng() % 255) - 127);
  x[0] = 127;  // the extremes
  x[1] = -127;
  return x;
}

class KernelSwitch : public ::testing::Test {
 protected:
  void TearDown() override {
    set_avx2_kernels(true);
    set_vnni_kernels(true);
  }
};

TEST_F(KernelSwitch, VectorKernelsGiveThePortableIntegers) {
  const auto steps = random_steps(1, 40);
  const auto probe = probe_rows(9);
  std::vector<std::vector<std::int32_t>> results;
  for (const int kernels : {2, 1, 0}) {  // portable, AVX2, VNNI (each where the CPU has it)
    if ((kernels == 0 && !cpu_has_vnni()) || (kernels == 1 && !cpu_has_avx2())) continue;
    set_avx2_kernels(kernels < 2);
    set_vnni_kernels(kernels == 0);
    results.push_back(learn(steps, 1, false, probe));
    EXPECT_EQ(results.back(), results.front()) << kernel_name();
  }
  // The steps moved the matrices: the test compares something.
  EXPECT_GT(std::count_if(results[2].begin(), results[2].end(), [](std::int32_t v) { return v != 0; }),
            static_cast<long>(results[2].size() / 2));
}

TEST(OutputAdaptation, RowOrderAndApplyRangesDoNotMatter) {
  const auto steps = random_steps(2, 30);
  const auto probe = probe_rows(4);
  const auto reference = learn(steps, 1, false, probe);
  EXPECT_EQ(learn(steps, 1, true, probe), reference);
  EXPECT_EQ(learn(steps, 3, false, probe), reference);
  EXPECT_EQ(learn(steps, 2, true, probe), reference);
  // Different data gives a different matrix (the comparisons above can fail).
  EXPECT_NE(learn(random_steps(3, 30), 1, false, probe), reference);
}

TEST(OutputAdaptation, SlotsWithoutAFrameLeaveTheMatricesAlone) {
  OutputAdaptation a(kVocab, 1, kSlots);
  a.set_width(kWidth);
  const auto steps = random_steps(4, 5);
  for (const auto& step : steps) {
    for (const Row& r : step) {
      const std::uint64_t total = std::accumulate(r.table.begin(), r.table.end(), std::uint64_t{0});
      a.record(r.slot, r.table.data(), total, r.symbol, r.x.data());
    }
    a.apply(0, kVocab);
    a.end_step();
  }
  const auto probe = probe_rows(2);
  std::vector<std::int32_t> out(2 * kVocab);
  a.adjustments(0, probe.data(), 2, out.data());
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::int32_t v) { return v == 0; }));
  EXPECT_THROW(a.assign(0, 1), std::out_of_range);
  EXPECT_THROW(a.set_width(kWidth + 1), std::invalid_argument);
}

// A random network cannot know a sequence; adapted, it learns the symbols
// that follow each other in it and codes its repeats in fewer bits.
TEST(OutputAdaptation, PredictorLearnsARepeatedSequence) {
  const ModelFile m = random_model(testing::small_config(), 7);
  std::vector<std::uint32_t> sequence;
  std::mt19937 rng(5);
  for (int i = 0; i < 40; ++i) sequence.push_back(rng() % 256);
  auto bits = [&](bool adapt) {
    auto p = make_cpu_predictor(m, 2);
    OutputAdaptation a(p->vocab_size(), 1, 2);
    if (adapt) {
      p->attach(&a);
      a.assign(0, 0);
    }
    const std::uint32_t slot = 0;
    std::uint32_t fed = p->bos();
    double total = 0, last_pass = 0;
    for (int pass = 0; pass < 8; ++pass) {
      last_pass = 0;
      for (const std::uint32_t symbol : sequence) {
        p->advance(&slot, &fed, 1);
        SymbolRange r;
        p->ranges_of(&symbol, &r);
        const double b = -std::log2(static_cast<double>(r.freq) / static_cast<double>(r.total));
        total += b;
        last_pass += b;
        if (adapt) {
          p->learn(&symbol);
          a.apply(0, p->vocab_size());
          a.end_step();
        }
        fed = symbol;
      }
    }
    if (adapt) p->attach(nullptr);
    return std::make_pair(total, last_pass);
  };
  const auto [plain_total, plain_last] = bits(false);
  const auto [adapted_total, adapted_last] = bits(true);
  EXPECT_LT(adapted_total, plain_total * 0.75);  // measured 0.62
  EXPECT_LT(adapted_last, plain_last * 0.4);  // measured 0.28
}

}  // namespace
}  // namespace lmzip

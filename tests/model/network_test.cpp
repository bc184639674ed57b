// The fast CPU predictor against the reference network, and the golden hash
// that pins the integer network's output forever.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include "hash/sha256.h"
#include "model/int8_gemm.h"
#include "model/network.h"
#include "model/parallel_predictor.h"
#include "model/random_model.h"
#include "../common/small_models.h"
#include "predictor_checks.h"

namespace lmzip {
namespace {

using testing::reference_hash;
using testing::small_config;
using testing::test_symbols;

// Runs `target` in slot `target_slot` beside batch-1 other streams of other
// text, and hashes only the target's tables.
std::string batched_hash(Predictor& p, const std::vector<std::uint32_t>& target, std::uint32_t batch,
                         std::uint32_t target_slot) {
  const std::uint32_t V = p.vocab_size();
  std::vector<std::vector<std::uint32_t>> streams(batch);
  std::vector<std::uint32_t> slots(batch);
  for (std::uint32_t b = 0; b < batch; ++b) {
    slots[b] = (target_slot + b) % p.max_streams();
    streams[b] = b == 0 ? target : test_symbols(target.size(), 100 + b, V);
    p.reset(slots[b]);
  }
  std::vector<std::uint32_t> symbols(batch), f(std::size_t{batch} * V);
  Sha256 h;
  for (std::size_t t = 0; t < target.size(); ++t) {
    for (std::uint32_t b = 0; b < batch; ++b) symbols[b] = t == 0 ? p.bos() : streams[b][t - 1];
    p.step(slots.data(), symbols.data(), batch, f.data());
    h.update(f.data(), std::size_t{V} * 4);
  }
  return to_hex(h.finish());
}

// The coding interface (advance, then ranges, totals, find) gives what the
// tables of step() give, for batches of every size.
TEST(Network, CodingInterfaceMatchesTables) {
  const ModelFile m = random_model(small_config(), 11);
  auto tables_side = make_cpu_predictor(m, 16);
  auto coding_side = make_cpu_predictor(m, 16);
  std::mt19937 rng(5);
  std::vector<std::uint32_t> slots(16), symbols(16), f(16 * 256);
  for (std::uint32_t s = 0; s < 16; ++s) {
    slots[s] = 15 - s;
    tables_side->reset(s);
    coding_side->reset(s);
  }
  for (std::size_t n : {16u, 1u, 7u, 16u, 3u}) {
    for (std::size_t i = 0; i < n; ++i) symbols[i] = rng() % 257;  // BOS (256) too
    tables_side->step(slots.data(), symbols.data(), n, f.data());
    coding_side->advance(slots.data(), symbols.data(), n);
    testing::expect_coding_matches_tables(*coding_side, f.data(), n, rng);
  }
}

// Two and three predictors on threads of their own, stepping one batch, give
// one predictor's tables and coding answers, whichever slots the rows use.
TEST(Network, ParallelPredictorMatchesOnePredictor) {
  const ModelFile m = random_model(small_config(), 13);
  for (std::size_t parts_count : {2u, 3u}) {
    auto single = make_cpu_predictor(m, 12);
    std::vector<std::unique_ptr<Predictor>> parts;
    for (std::size_t k = 0; k < parts_count; ++k) parts.push_back(make_cpu_predictor(m, 12 / parts_count));
    auto parallel = make_parallel_predictor(std::move(parts));
    ASSERT_EQ(parallel->max_streams(), 12u);
    std::mt19937 rng(9);
    std::vector<std::uint32_t> slots(12), symbols(12), f(12 * 256), g(12 * 256);
    for (std::uint32_t s = 0; s < 12; ++s) {
      slots[s] = (s * 5 + 3) % 12;  // rows in no particular slot order
      single->reset(s);
      parallel->reset(s);
    }
    for (std::size_t n : {12u, 1u, 7u, 12u, 2u, 5u}) {
      for (std::size_t i = 0; i < n; ++i) symbols[i] = rng() % 257;
      single->step(slots.data(), symbols.data(), n, f.data());
      if (n % 2) {
        parallel->step(slots.data(), symbols.data(), n, g.data());
        ASSERT_TRUE(std::equal(f.begin(), f.begin() + n * 256, g.begin())) << parts_count << " parts, " << n << " rows";
      } else {
        parallel->advance(slots.data(), symbols.data(), n);
        testing::expect_coding_matches_tables(*parallel, f.data(), n, rng);
      }
    }
  }
}

// for_row_ranges covers every row once, in disjoint ranges, on as many
// threads as there are parts (and in one range on a single predictor).
TEST(Network, RowRangesCoverEveryRowOnce) {
  const ModelFile m = random_model(small_config(), 13);
  for (std::size_t parts_count : {1u, 2u, 3u}) {
    std::vector<std::unique_ptr<Predictor>> parts;
    for (std::size_t k = 0; k < parts_count; ++k) parts.push_back(make_cpu_predictor(m, 4));
    auto p = make_parallel_predictor(std::move(parts));
    for (std::size_t n : {0u, 1u, 2u, 7u, 12u}) {
      std::vector<int> covered(n, 0);
      std::vector<std::thread::id> threads(n);
      p->for_row_ranges(n, [&](std::size_t first, std::size_t last) {
        for (std::size_t i = first; i < last; ++i) {
          ++covered[i];
          threads[i] = std::this_thread::get_id();
        }
      });
      EXPECT_EQ(std::count(covered.begin(), covered.end(), 1), static_cast<std::ptrdiff_t>(n)) << parts_count;
      if (n >= parts_count) {
        EXPECT_NE(threads.front() == threads.back(), parts_count > 1) << parts_count << " " << n;
      }
    }
  }
}

TEST(Network, FrequenciesArePositiveAndBounded) {
  const ModelFile m = random_model(small_config(), 7);
  ReferenceNetwork net(m);
  std::vector<std::uint32_t> f(256);
  net.step(256, f.data());
  std::uint64_t total = 0;
  std::uint32_t max = 0;
  for (std::uint32_t v : f) {
    EXPECT_GE(v, 1u);
    total += v;
    max = std::max(max, v);
  }
  EXPECT_LE(total, std::uint64_t{1} << 32);
  EXPECT_EQ(max, 65537u);  // the most likely symbol gets OUT_EXP[0] + 1
}

TEST(Network, FastPathMatchesReferenceInEveryBatchAndSlot) {
  const ModelFile m = random_model(small_config(), 7);
  const auto target = test_symbols(100, 1, 256);  // longer than the window: the cache wraps
  const std::string expected = reference_hash(m, target);
  auto p = make_cpu_predictor(m, 64);
  for (std::uint32_t batch : {1u, 7u, 64u})
    for (std::uint32_t slot : {0u, 5u, 63u}) EXPECT_EQ(batched_hash(*p, target, batch, slot), expected) << batch;
}

// The AVX2 kernels and the portable loops against the reference, for the head
// sizes the vector attention handles and others, odd windows (padded cache
// rows, odd spans) and one and several kv heads.
TEST(Network, VectorAndPortableKernelsMatchReference) {
  struct Shape {
    std::uint32_t head_dim, heads, kv_heads, window;
  };
  for (const Shape s : {Shape{16, 4, 2, 32}, Shape{32, 4, 1, 37}, Shape{64, 2, 1, 9}, Shape{24, 2, 2, 13},
                        Shape{7, 2, 1, 8}}) {
    ModelConfig c = small_config();
    c.head_dim = s.head_dim;
    c.heads = s.heads;
    c.kv_heads = s.kv_heads;
    c.window = s.window;
    const ModelFile m = random_model(c, 11);
    const auto target = test_symbols(90, 6, 256);
    const std::string expected = reference_hash(m, target);
    // Every kernel this CPU has: VNNI, AVX2, portable.
    for (const int kernels : {0, 1, 2}) {
      if ((kernels == 0 && !cpu_has_vnni()) || (kernels == 1 && !cpu_has_avx2())) continue;
      set_avx2_kernels(kernels < 2);
      set_vnni_kernels(kernels == 0);
      auto p = make_cpu_predictor(m, 8);
      EXPECT_EQ(batched_hash(*p, target, 5, 6), expected) << "head_dim " << s.head_dim << " " << kernel_name();
    }
    set_avx2_kernels(true);
    set_vnni_kernels(true);
  }
}

// The longest window a model file may have, run past its end (the cache
// wraps): the CPU's int32 attention sums agree with the reference's. One
// past it is refused at load (model_file_test).
TEST(Network, LongestWindowIsExact) {
  ModelConfig c = testing::smallest_config(64);
  c.window = kMaxWindow;
  const ModelFile m = random_model(c, 17);
  const auto target = test_symbols(kMaxWindow + 40, 8, 64);
  auto p = make_cpu_predictor(m, 2);
  EXPECT_EQ(batched_hash(*p, target, 2, 1), reference_hash(m, target));
  ModelConfig over = c;
  over.window = kMaxWindow + 1;
  EXPECT_THROW(random_model(over, 17), std::exception);
}

TEST(Network, LargeInnerSizesAreExact) {
  ModelConfig c = small_config();
  c.ffn = 1100;  // w2's inner size: sums beyond float32's exact range
  c.layers = 1;
  const ModelFile m = random_model(c, 9);
  const auto target = test_symbols(40, 3, 256);
  auto p = make_cpu_predictor(m, 4);
  EXPECT_EQ(batched_hash(*p, target, 4, 1), reference_hash(m, target));
}

TEST(Network, SelfTestRejectsADifferentDigest) {
  ModelFile m = random_model(small_config(), 7);
  m.selftest_digest[0] ^= 1;
  EXPECT_THROW(make_cpu_predictor(m, 1), std::runtime_error);
}

// The golden hash: a fixed model and input whose tables hash to a committed
// value on every backend, thread count and batch size. If this changes, files
// written before can no longer be decoded: that needs a new format version.
TEST(Network, GoldenHash) {
  const ModelFile m = random_model(small_config(), 20261123);
  const auto target = test_symbols(200, 4, 256);
  const char* golden = "b75c6eb92a8a5dfe946fdb38c14a59ec1390aaba79def306eda1b99519cbc542";
  EXPECT_EQ(reference_hash(m, target), golden);
  auto p = make_cpu_predictor(m, 64);
  for (std::uint32_t batch : {1u, 7u, 64u}) EXPECT_EQ(batched_hash(*p, target, batch, 13 % batch), golden);
}

}  // namespace
}  // namespace lmzip

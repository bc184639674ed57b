// random_model(): the untrained models that tests and benchmarks run on.
// They must be the same file on every platform and give the network
// activations in a healthy range (neither uniform nor saturated outputs).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "model/model_file.h"
#include "model/network.h"
#include "model/random_model.h"
#include "../common/small_models.h"

namespace lmzip {
namespace {

ModelConfig small_config() {
  ModelConfig c = testing::small_config();
  c.chunk_bytes = 4096;
  return c;
}

// The file without its self-test digest, which the network computes.
std::vector<std::uint8_t> bytes_without_digest(const ModelFile& m) {
  std::vector<std::uint8_t> b = m.serialize();
  b.resize(b.size() - 32);
  return b;
}

TEST(RandomModel, SameSeedSameFileOtherSeedOtherFile) {
  const ModelFile a = random_model(small_config(), 1);
  EXPECT_EQ(a.serialize(), random_model(small_config(), 1).serialize());
  EXPECT_NE(bytes_without_digest(a), bytes_without_digest(random_model(small_config(), 2)));
  const std::vector<std::uint8_t> b = a.serialize();
  EXPECT_EQ(ModelFile::parse(b.data(), b.size()).serialize(), b);
}

// Pins the generator: a seed must give the same model with every compiler and
// standard library. Update the value only when changing random_model() on purpose.
TEST(RandomModel, GeneratorIsPinned) {
  const std::vector<std::uint8_t> b = bytes_without_digest(random_model(small_config(), 1));
  EXPECT_EQ(b.size(), 99326u);
  EXPECT_EQ(to_hex(sha256(b.data(), b.size())), "4519efe7c8df7c62efaff715aa2495581a2de8c472b3f151dbc7edcc48ef5352");
}

TEST(RandomModel, TokenizerFollowsVocabularySize) {
  ModelConfig c = small_config();
  const ModelFile bytes = random_model(c, 3);
  EXPECT_EQ(bytes.tokenizer, TokenizerKind::Bytes);
  c.vocab_size = 1000;
  const ModelFile tokens = random_model(c, 3);
  EXPECT_EQ(tokens.tokenizer, TokenizerKind::SentencePiece);
  ASSERT_EQ(tokens.pieces.size(), 1000u);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(tokens.pieces[i], std::string(1, static_cast<char>(i)));
  for (std::size_t i = 256; i < tokens.pieces.size(); ++i) {
    EXPECT_GE(tokens.pieces[i].size(), 2u);
    EXPECT_LE(tokens.pieces[i].size(), 3u);
  }
  c.vocab_size = 16;
  const ModelFile tiny = random_model(c, 3);
  EXPECT_EQ(tiny.pieces.back(), std::string(1, '\x0f'));
}

TEST(RandomModel, SlopesFollowAlibi) {
  ModelConfig c = small_config();
  c.heads = 8;
  c.kv_heads = 1;
  const std::vector<std::int32_t> eight{128, 64, 32, 16, 8, 4, 2, 1};
  EXPECT_EQ(random_model(c, 1).layers[0].attention.slope, eight);
  c.heads = 4;
  const std::vector<std::int32_t> four{64, 16, 4, 1};
  EXPECT_EQ(random_model(c, 1).layers[1].attention.slope, four);
}

TEST(RandomModel, InvalidConfigRejected) {
  ModelConfig c = small_config();
  c.kv_heads = 3;
  EXPECT_THROW(random_model(c, 1), std::runtime_error);
}

// Runs the reference network and checks the distributions it predicts: they
// depend on the context, are neither flat nor a single spike, and hash to the
// stored self-test digest.
TEST(RandomModel, PredictionsAreNeitherFlatNorSaturated) {
  const ModelConfig c = small_config();
  const ModelFile m = random_model(c, 5);
  ReferenceNetwork net(m);
  net.reset();
  std::vector<std::uint32_t> freqs(c.vocab_size);
  std::set<std::vector<std::uint32_t>> distinct;
  double entropy_sum = 0, top_sum = 0;
  const int steps = 64;
  std::uint32_t symbol = c.vocab_size;  // BOS
  for (int t = 0; t < steps; ++t) {
    net.step(symbol, freqs.data());
    double total = 0;
    for (std::uint32_t f : freqs) total += f;
    double entropy = 0, top = 0;
    for (std::uint32_t f : freqs) {
      ASSERT_GE(f, 1u);
      entropy -= f / total * std::log2(f / total);
      top = std::max(top, f / total);
    }
    entropy_sum += entropy;
    top_sum += top;
    distinct.insert(freqs);
    symbol = static_cast<std::uint32_t>((t * 97 + 13) % c.vocab_size);
  }
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(steps));
  EXPECT_GT(entropy_sum / steps, 3.0);  // 8 would be flat
  EXPECT_LT(entropy_sum / steps, 7.5);
  EXPECT_LT(top_sum / steps, 0.5);

  Sha256 digest;
  net.reset();
  symbol = c.vocab_size;
  for (std::size_t i = 0; i <= m.selftest_symbols.size(); ++i) {
    net.step(symbol, freqs.data());
    for (std::uint32_t f : freqs) {
      const std::uint8_t le[4] = {static_cast<std::uint8_t>(f), static_cast<std::uint8_t>(f >> 8),
                                  static_cast<std::uint8_t>(f >> 16), static_cast<std::uint8_t>(f >> 24)};
      digest.update(le, 4);
    }
    if (i < m.selftest_symbols.size()) symbol = m.selftest_symbols[i];
  }
  EXPECT_EQ(digest.finish(), m.selftest_digest);
}

}  // namespace
}  // namespace lmzip

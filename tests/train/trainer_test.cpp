// Training end to end on a tiny network and a few KB of generated text:
// the loss falls, the export loads, the integer network codes about as well as
// the float one, and a run stopped and resumed equals one run straight through.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/model_file.h"
#include "train/dataset.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace lmzip;

namespace {

// Sentences from a small grammar: enough structure for 50 steps to learn.
std::string generated_text(std::uint64_t seed, std::size_t bytes) {
  static const char* subjects[] = {"the cat", "a dog", "my friend", "the old man", "she", "he"};
  static const char* verbs[] = {"sat on", "looked at", "walked to", "found", "liked"};
  static const char* objects[] = {"the mat", "a tree", "the house", "the river", "a small box"};
  trainer::Rng rng(seed);
  std::string text;
  while (text.size() < bytes) {
    text += subjects[rng.below(6)];
    text += " ";
    text += verbs[rng.below(5)];
    text += " ";
    text += objects[rng.below(5)];
    text += rng.below(4) == 0 ? ".\n" : ". ";
  }
  text.resize(bytes);
  return text;
}

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("lmzip-train-test-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "data" / "more");
    for (int f = 0; f < 3; ++f) {
      std::ofstream out(root_ / "data" / (f == 2 ? "more/c.txt" : f == 1 ? "b.txt" : "a.txt"), std::ios::binary);
      out << generated_text(f + 1, 4000);
    }
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static TrainOptions tiny(const std::string& run) {
    TrainOptions o;
    o.inputs = {(root_ / "data").string()};
    o.output = (root_ / (run + ".lmzm")).string();
    o.checkpoint_dir = (root_ / run).string();
    o.config.width = 32;
    o.config.layers = 1;
    o.config.heads = 2;
    o.config.kv_heads = 1;
    o.config.head_dim = 16;
    o.config.ffn = 64;
    o.config.window = 16;
    o.config.chunk_bytes = 4096;
    o.steps = 50;
    o.batch = 8;
    o.sequence = 32;
    o.learning_rate = 1e-2;
    o.holdout = 0.1;
    o.eval_every = 25;
    o.checkpoint_every = 1000;
    o.threads = 1;
    return o;
  }

  // One straight run, shared by the tests.
  static const TrainReport& straight() {
    static const TrainReport report = train_with_report(tiny("straight"));
    return report;
  }

  static std::vector<std::uint8_t> network_bytes(const std::string& path) {
    ModelFile m = ModelFile::load(path);
    m.description.clear();  // holds the training time
    return m.serialize();
  }

  static fs::path root_;
};

fs::path TrainTest::root_;

TEST_F(TrainTest, LossFallsAndTheExportLoads) {
  const TrainReport& r = straight();
  EXPECT_TRUE(r.exported);
  EXPECT_EQ(r.step, 50u);
  EXPECT_LT(r.last_loss, r.first_loss - 1.0) << "first " << r.first_loss << " last " << r.last_loss;

  const ModelFile m = ModelFile::load(tiny("straight").output);
  EXPECT_EQ(m.config.vocab_size, 256u);
  EXPECT_EQ(m.config.width, 32u);
  EXPECT_EQ(m.pieces.size(), 256u);
  EXPECT_EQ(m.selftest_symbols.size(), 64u);
  EXPECT_NE(m.description.find("50 steps"), std::string::npos) << m.description;
  const auto bytes = m.serialize();
  EXPECT_EQ(ModelFile::parse(bytes.data(), bytes.size()).serialize(), bytes);
}

TEST_F(TrainTest, IntegerNetworkCodesLikeTheFloatOne) {
  const TrainReport& r = straight();
  ASSERT_TRUE(r.exported);
  EXPECT_LT(r.float_bpb, 6.0);  // learned something (uniform is 8)
  EXPECT_NEAR(r.integer_bpb / r.float_bpb, 1.0, 0.03) << "float " << r.float_bpb << " integer " << r.integer_bpb;
}

TEST_F(TrainTest, ResumedRunEqualsStraightRun) {
  straight();
  TrainOptions o = tiny("resumed");
  o.stop_after = 20;
  const TrainReport first = train_with_report(o);
  EXPECT_FALSE(first.exported);
  EXPECT_EQ(first.step, 20u);
  EXPECT_FALSE(fs::exists(o.output));

  o.stop_after = 0;
  const TrainReport second = train_with_report(o);
  EXPECT_TRUE(second.exported);
  EXPECT_EQ(second.step, 50u);
  EXPECT_EQ(network_bytes(o.output), network_bytes(tiny("straight").output));
  EXPECT_DOUBLE_EQ(second.integer_bpb, straight().integer_bpb);
}

TEST_F(TrainTest, SentencePieceModel) {
  if (std::system("command -v spm_train > /dev/null 2>&1") != 0) GTEST_SKIP() << "spm_train not installed";
  TrainOptions o = tiny("sentencepiece");
  o.tokenizer = "sentencepiece";
  o.vocab_size = 290;  // this little text supports at most ~300 pieces
  o.steps = 30;
  const TrainReport r = train_with_report(o);
  ASSERT_TRUE(r.exported);
  const ModelFile m = ModelFile::load(o.output);
  EXPECT_EQ(m.tokenizer, TokenizerKind::SentencePiece);
  EXPECT_FALSE(m.sentencepiece_model.empty());
  EXPECT_GT(m.config.vocab_size, 256u);
  EXPECT_EQ(m.pieces.size(), m.config.vocab_size);
  EXPECT_NEAR(r.integer_bpb / r.float_bpb, 1.0, 0.05) << "float " << r.float_bpb << " integer " << r.integer_bpb;
}

TEST(Dataset, SplitsEveryFileAndCachesTheTokens) {
  const fs::path dir = fs::temp_directory_path() / ("lmzip-dataset-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  std::ofstream(dir / "in" / "x.txt", std::ios::binary) << std::string(1000, 'x');
  std::ofstream(dir / "in" / "y.txt", std::ios::binary) << std::string(500, 'y');
  TrainOptions o;
  o.inputs = {(dir / "in").string()};
  o.holdout = 0.1;
  const trainer::Corpus c = trainer::prepare_corpus(o, (dir / "cache").string());
  ASSERT_EQ(c.files.size(), 2u);
  EXPECT_EQ(c.train_starts, (std::vector<std::uint64_t>{0, 900, 1350}));
  EXPECT_EQ(c.held_starts, (std::vector<std::uint64_t>{0, 100, 150}));
  EXPECT_EQ(c.held[0], 'x');
  EXPECT_EQ(c.held[149], 'y');
  const trainer::Corpus cached = trainer::prepare_corpus(o, (dir / "cache").string());
  EXPECT_EQ(cached.train, c.train);
  EXPECT_EQ(cached.held, c.held);

  // Batches start with BOS and follow the text.
  trainer::Rng rng(7);
  std::vector<std::int64_t> in(4 * 16), tg(4 * 16);
  trainer::sample_batch(c, rng, 4, 16, in.data(), tg.data());
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(in[b * 16], 256);
    for (int i = 1; i < 16; ++i) {
      if (tg[b * 16 + i - 1] >= 0) {
        EXPECT_EQ(in[b * 16 + i], tg[b * 16 + i - 1]);
      }
    }
  }
  fs::remove_all(dir);
}

}  // namespace

// Training end to end on a tiny network and a few KB of generated text:
// the loss falls, the export loads, the integer network codes about as well as
// the float one, and a run stopped and resumed equals one run straight through.
// Then the device option, given SentencePiece models and parallel tokenizing.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>

#include "../common/small_models.h"
#include "model/model_file.h"
#include "train/dataset.h"
#include "train/export.h"
#include "train/qat_model.h"
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
    o.config = lmzip::testing::tiny_config();
    o.steps = 50;
    o.batch = 8;
    o.sequence = 32;
    o.learning_rate = 1e-2;
    o.holdout = 0.1;
    o.eval_every = 25;
    o.checkpoint_every = 1000;
    o.threads = 1;
    o.device = "cpu";  // bit-exact resumption is a CPU property
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
  EXPECT_EQ(r.device, "cpu");
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

TEST(LearningRate, CosineWarmsUpThenDecaysToATenth) {
  TrainOptions o;
  o.steps = 1000;
  o.learning_rate = 1e-3;
  EXPECT_DOUBLE_EQ(learning_rate_at(0, o), 1e-3 / 50);  // warmup steps/20
  EXPECT_DOUBLE_EQ(learning_rate_at(49, o), 1e-3);
  EXPECT_GT(learning_rate_at(500, o), learning_rate_at(501, o));
  EXPECT_NEAR(learning_rate_at(1000, o), 1e-4, 1e-12);
}

// A constant run cooled down in a copy: the copy's rate equals the run's
// until its decay starts, then falls to zero by its last step.
TEST(LearningRate, WsdCoolsDownFromAnyStep) {
  TrainOptions run;
  run.schedule = "wsd";
  run.steps = 1000000;
  run.warmup_steps = 100;
  run.decay_steps = 300;
  run.learning_rate = 2e-3;
  EXPECT_DOUBLE_EQ(learning_rate_at(0, run), 2e-3 / 100);
  EXPECT_DOUBLE_EQ(learning_rate_at(99, run), 2e-3);

  TrainOptions cooldown = run;
  cooldown.steps = 1800;
  for (std::uint64_t step : {100, 1000, 1499})
    EXPECT_DOUBLE_EQ(learning_rate_at(step, cooldown), learning_rate_at(step, run));
  EXPECT_DOUBLE_EQ(learning_rate_at(1500, cooldown), 2e-3);
  EXPECT_LT(learning_rate_at(1501, cooldown), 2e-3);
  EXPECT_GT(learning_rate_at(1799, cooldown), 0.0);
  EXPECT_LT(learning_rate_at(1799, cooldown), 2e-3 * 0.06);  // 1 - sqrt(299/300)
  for (std::uint64_t step = 1500; step < 1799; ++step)
    EXPECT_GT(learning_rate_at(step, cooldown), learning_rate_at(step + 1, cooldown));
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

// The float network imported from a model file exports back to its integers.
TEST_F(TrainTest, ImportedNetworkExportsItsIntegers) {
  ASSERT_TRUE(straight().exported);
  const ModelFile file = ModelFile::load(tiny("straight").output);
  trainer::QatModel model(file.config);
  const int residual_bits = trainer::import_network(file, model);
  const ModelFile back = trainer::export_network(model, residual_bits);
  auto same_linear = [](const QuantLinear& a, const QuantLinear& b, const char* what) {
    EXPECT_EQ(a.weight, b.weight) << what;
    EXPECT_EQ(a.shift, b.shift) << what;
    ASSERT_EQ(a.multiplier.size(), b.multiplier.size()) << what;
    for (std::size_t o = 0; o < a.multiplier.size(); ++o)
      EXPECT_NEAR(double(b.multiplier[o]) / double(a.multiplier[o]), 1.0, 1e-5) << what << " row " << o;
  };
  same_linear(file.embedding, back.embedding, "embedding");
  ASSERT_EQ(back.layers.size(), file.layers.size());
  for (std::size_t l = 0; l < file.layers.size(); ++l) {
    const LayerWeights &a = file.layers[l], &b = back.layers[l];
    EXPECT_EQ(a.attn_norm, b.attn_norm);
    EXPECT_EQ(a.ffn_norm, b.ffn_norm);
    same_linear(a.wq, b.wq, "wq");
    same_linear(a.wk, b.wk, "wk");
    same_linear(a.wv, b.wv, "wv");
    same_linear(a.wo, b.wo, "wo");
    same_linear(a.w1, b.w1, "w1");
    same_linear(a.w2, b.w2, "w2");
    EXPECT_EQ(a.attention.score_shift, b.attention.score_shift);
    EXPECT_NEAR(double(b.attention.score_multiplier[0]) / double(a.attention.score_multiplier[0]), 1.0, 1e-5);
  }
  EXPECT_EQ(file.final_norm, back.final_norm);
  same_linear(file.output, back.output, "output");
}

// Training from a model file starts at its loss, not at a fresh network's,
// with its shape whatever the options say.
TEST_F(TrainTest, InitModelStartsFromTheModel) {
  const TrainReport& fresh = straight();
  TrainOptions o = tiny("init");
  o.init_model = tiny("straight").output;
  o.config.width = 64;   // replaced by the model's
  o.config.window = 0;   // the model's
  o.steps = 5;
  o.learning_rate = 1e-3;
  const TrainReport r = train_with_report(o);
  ASSERT_TRUE(r.exported);
  EXPECT_LT(r.first_loss, fresh.first_loss - 1.0) << "fresh " << fresh.first_loss << " init " << r.first_loss;
  EXPECT_NEAR(r.integer_bpb / fresh.integer_bpb, 1.0, 0.05) << "model " << fresh.integer_bpb << " init "
                                                             << r.integer_bpb;
  const ModelFile m = ModelFile::load(o.output);
  EXPECT_EQ(m.config.width, 32u);
  EXPECT_EQ(m.config.window, 16u);
  EXPECT_NE(m.description.find("starting from model"), std::string::npos) << m.description;

  TrainOptions missing = tiny("init-missing");
  missing.init_model = (root_ / "no-such.lmzm").string();
  EXPECT_THROW(train_with_report(missing), std::runtime_error);
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

// ---------------------------------------------------------------------------
// Devices

TEST_F(TrainTest, DeviceOption) {
  const bool cuda = torch::cuda::is_available();
  TrainOptions o = tiny("device-auto");
  o.device = "auto";
  o.stop_after = 2;
  EXPECT_EQ(train_with_report(o).device, cuda ? "cuda" : "cpu");

  o = tiny("device-bad");
  o.device = "tpu";
  EXPECT_THROW(train_with_report(o), std::runtime_error);
  if (cuda) return;
  o.device = "cuda";
  try {
    train_with_report(o);
    ADD_FAILURE() << "--device cuda trained without a GPU";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cpu"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.checkpoint_dir)) << "failed before touching anything";
}

// Only where a GPU is: training there works, and checkpoints move between devices.
TEST_F(TrainTest, CudaTrainsAndResumesAcrossDevices) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  TrainOptions o = tiny("cuda");
  o.device = "cuda";
  const TrainReport r = train_with_report(o);
  EXPECT_EQ(r.device, "cuda");
  EXPECT_LT(r.last_loss, r.first_loss - 1.0);
  EXPECT_NEAR(r.integer_bpb / r.float_bpb, 1.0, 0.03) << "float " << r.float_bpb << " integer " << r.integer_bpb;

  for (const char* first : {"cuda", "cpu"}) {
    o = tiny(std::string("cross-") + first);
    o.device = first;
    o.stop_after = 20;
    EXPECT_FALSE(train_with_report(o).exported);
    o.device = o.device == "cuda" ? "cpu" : "cuda";
    o.stop_after = 0;
    const TrainReport resumed = train_with_report(o);
    EXPECT_TRUE(resumed.exported);
    EXPECT_EQ(resumed.step, 50u);
    EXPECT_NEAR(resumed.integer_bpb, straight().integer_bpb, 0.1 * straight().integer_bpb);
  }
}

// The tensor-op attention weights (GPU) equal the fused loop (CPU), forward and backward.
// Attention in blocks of queries gives what one block of the whole sequence
// gives, and the same gradients.
TEST(QatModel, AttentionInBlocksEqualsOneBlock) {
  torch::manual_seed(7);
  ModelConfig c = lmzip::testing::small_config();
  c.window = 24;
  trainer::QatModel model(c);
  const auto tokens = torch::randint(0, c.vocab_size + 1, {2, 150}, torch::kInt64);
  model->calibrate(tokens);
  const auto weight = torch::randn({2, 150, std::int64_t{c.vocab_size}});
  std::vector<torch::Tensor> logits, grads;
  for (std::int64_t block : {150, 64, 17}) {
    model->attention_block = block;
    model->zero_grad();
    logits.push_back(model->forward(tokens));
    (logits.back() * weight).sum().backward();
    grads.push_back(model->layers[0]->wq.grad().clone());
  }
  for (std::size_t b = 1; b < logits.size(); ++b) {
    EXPECT_TRUE(torch::allclose(logits[b], logits[0], 1e-4, 1e-4)) << (logits[b] - logits[0]).abs().max().item<float>();
    EXPECT_TRUE(torch::allclose(grads[b], grads[0], 1e-3, 1e-3)) << (grads[b] - grads[0]).abs().max().item<float>();
  }
}

// The fused CPU loops of the fake quantizations against their tensor ops:
// the same values, the same gradients up to summation order.
TEST(QatModel, FusedFakeQuantEqualsTensorOps) {
  torch::manual_seed(5);
  const auto x = (torch::randn({300, 70}) * 4).requires_grad_(true);  // some beyond the range
  const auto log_s = torch::full({1}, std::log(0.03), torch::kFloat32).requires_grad_(true);
  const auto weight = torch::randn({300, 70});
  using Quant = std::function<torch::Tensor(bool)>;
  const Quant quants[] = {
      [&](bool ops) { return trainer::fake_quant(x, log_s, -127, 127, ops); },
      [&](bool ops) { return trainer::fake_quant(x, log_s, 0, 15, ops); },
      [&](bool ops) { return trainer::squared_relu_quant(x, log_s, ops); },
  };
  for (const auto& quant : quants) {
    const auto fused = quant(false), ops = quant(true);
    EXPECT_TRUE(torch::equal(fused, ops));
    const auto g_fused = torch::autograd::grad({(fused * weight).sum()}, {x, log_s});
    const auto g_ops = torch::autograd::grad({(ops * weight).sum()}, {x, log_s});
    EXPECT_TRUE(torch::allclose(g_fused[0], g_ops[0], 1e-5, 1e-6)) << (g_fused[0] - g_ops[0]).abs().max().item<float>();
    EXPECT_GT(g_fused[0].abs().sum().item<float>(), 0.0f);
    EXPECT_NEAR(g_fused[1].item<double>(), g_ops[1].item<double>(), 1e-3 * std::abs(g_ops[1].item<double>()) + 1e-4);
    EXPECT_NE(g_fused[1].item<double>(), 0.0);
  }
}

TEST(QatModel, FusedNormEqualsTensorOps) {
  torch::manual_seed(9);
  const auto r = (torch::randn({3, 300, 48}) * 5).requires_grad_(true);  // 900 rows: several blocks
  const auto gain = (torch::rand({48}) + 0.5).requires_grad_(true);
  const auto weight = torch::randn({3, 300, 48});
  const auto fused = trainer::rms_norm(r, gain), ops = trainer::rms_norm(r, gain, true);
  EXPECT_TRUE(torch::allclose(fused, ops, 1e-5, 1e-6)) << (fused - ops).abs().max().item<float>();
  const auto g_fused = torch::autograd::grad({(fused * weight).sum()}, {r, gain});
  const auto g_ops = torch::autograd::grad({(ops * weight).sum()}, {r, gain});
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(torch::allclose(g_fused[i], g_ops[i], 1e-4, 1e-5)) << i << ": "
        << (g_fused[i] - g_ops[i]).abs().max().item<float>();
    EXPECT_GT(g_fused[i].abs().sum().item<float>(), 0.0f);
  }
}

// bf16 products: the forward products are exact integers, so a layer's
// output equals float32's up to rounding; the gradients differ by the bf16
// rounding of the incoming gradient (8 significant bits).
TEST(QatModel, Bf16ProductsMatchFloat32) {
  if (!trainer::bf16_products_available()) GTEST_SKIP() << "no bf16 GEMM on this CPU or libtorch";
  torch::manual_seed(11);
  const auto log_s = torch::full({1}, std::log(0.05), torch::kFloat32);
  const auto x = trainer::fake_quant(torch::randn({2, 40, 96}) * 3, log_s, -127, 127).requires_grad_(true);
  const auto w = (torch::randn({72, 96}) * 0.1).requires_grad_(true);
  const auto bf16 = trainer::bf16_linear(x, log_s.exp().item<double>(), w);
  const auto w_q = w + (trainer::int_weights(w) * trainer::row_scales(w) - w).detach();  // quant_rows
  const auto f32 = torch::nn::functional::linear(x, w_q);
  EXPECT_TRUE(torch::allclose(bf16, f32, 1e-5, 1e-5)) << (bf16 - f32).abs().max().item<float>();
  const auto weight = torch::randn({2, 40, 72});
  const auto g_bf16 = torch::autograd::grad({(bf16 * weight).sum()}, {x, w});
  const auto g_f32 = torch::autograd::grad({(f32 * weight).sum()}, {x, w});
  for (int i = 0; i < 2; ++i) {
    const double error = ((g_bf16[i] - g_f32[i]).norm() / g_f32[i].norm()).item<double>();
    EXPECT_LT(error, 4e-3) << "gradient " << i;
    EXPECT_GT(error, 0.0) << "gradient " << i << ": rounded to bf16, it should differ";
  }

  // The whole network: logits and every gradient.
  ModelConfig c = lmzip::testing::small_config();
  trainer::QatModel model(c);
  const auto tokens = torch::randint(0, c.vocab_size + 1, {2, 64}, torch::kInt64);
  model->calibrate(tokens);
  const auto out_weight = torch::randn({2, 64, std::int64_t{c.vocab_size}});
  std::vector<torch::Tensor> logits;
  std::vector<std::vector<torch::Tensor>> grads;
  for (bool on : {false, true}) {
    model->bf16_products = on;
    model->zero_grad();
    logits.push_back(model->forward(tokens));
    (logits.back() * out_weight).sum().backward();
    grads.emplace_back();
    for (const auto& p : model->parameters()) grads.back().push_back(p.grad().clone());
  }
  EXPECT_TRUE(torch::allclose(logits[1], logits[0], 1e-4, 1e-4)) << (logits[1] - logits[0]).abs().max().item<float>();
  for (std::size_t i = 0; i < grads[0].size(); ++i) {
    const double norm = grads[0][i].norm().item<double>();
    // Weights within 1%; a scale's gradient, a sum of terms that mostly
    // cancel, within 25%.
    const double bound = grads[0][i].numel() > 1 ? 0.01 : 0.25;
    EXPECT_LT((grads[1][i] - grads[0][i]).norm().item<double>(), bound * norm + 1e-9) << "parameter " << i;
  }
}

TEST(QatModel, AttentionWeightsByTensorOpsEqualTheLoop) {
  torch::manual_seed(3);
  const std::int64_t H = 3, T = 21, window = 7;
  const auto scores = (torch::randn({2, H, T, T}) * 3).requires_grad_(true);
  auto slopes = torch::empty({H});
  for (std::int64_t h = 0; h < H; ++h) slopes[h] = float(trainer::alibi_slope(h, H)) / 256.0f;
  const auto table = trainer::attention_exp_table();
  const auto loop = trainer::attention_weights(scores, slopes, table, window, false);
  const auto ops = trainer::attention_weights(scores, slopes, table, window, true);
  EXPECT_TRUE(torch::equal(loop, ops));
  EXPECT_EQ(loop.index({0, 0, 10, 11}).item<float>(), 0.0f);  // the future
  EXPECT_EQ(loop.index({0, 0, 10, 3}).item<float>(), 0.0f);   // before the window
  const auto weight = torch::randn({2, H, T, T});
  const auto grad_loop = torch::autograd::grad({(loop * weight).sum()}, {scores})[0];
  const auto grad_ops = torch::autograd::grad({(ops * weight).sum()}, {scores})[0];
  // The same sums in another order.
  EXPECT_TRUE(torch::allclose(grad_loop, grad_ops, 1e-5, 1e-6)) << (grad_loop - grad_ops).abs().max().item<float>();
  EXPECT_FALSE(torch::equal(grad_loop, torch::zeros_like(grad_loop)));

  // A block of queries 9..15 against keys 3..15: the full matrix's entries.
  const auto block = scores.detach().narrow(2, 9, 7).narrow(3, 3, 13).contiguous();
  for (bool tensor_ops : {false, true})
    EXPECT_TRUE(torch::equal(trainer::attention_weights(block, slopes, table, window, tensor_ops, 9, 3),
                             loop.detach().narrow(2, 9, 7).narrow(3, 3, 13)));
  EXPECT_THROW(trainer::attention_weights(block.narrow(3, 0, 12), slopes, table, window, false, 9, 3),
               std::invalid_argument);  // keys end before the last query

  if (!torch::cuda::is_available()) return;
  const auto cuda = trainer::attention_weights(scores.detach().cuda(), slopes.cuda(), table.cuda(), window);
  EXPECT_TRUE(torch::allclose(cuda.cpu(), loop, 1e-6, 1e-7)) << (cuda.cpu() - loop).abs().max().item<float>();
}

// ---------------------------------------------------------------------------
// Given SentencePiece models and parallel tokenizing

// A SentencePiece model file as spm_train writes one (the fields read):
// <unk> <s> </s>, the 256 byte pieces, then `pieces` with their scores.
std::string sentencepiece_model_file(const std::vector<std::pair<std::string, float>>& pieces) {
  auto varint = [](std::string& out, std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>(v | 0x80));
    out.push_back(static_cast<char>(v));
  };
  auto message = [&](std::string& out, int field, const std::string& body) {
    varint(out, std::uint64_t(field) << 3 | 2);
    varint(out, body.size());
    out += body;
  };
  std::string model;
  auto piece = [&](const std::string& text, float score, int type) {
    std::string p;
    message(p, 1, text);
    p.push_back(0x15);  // field 2, fixed32
    std::uint32_t bits;
    std::memcpy(&bits, &score, 4);
    for (int i = 0; i < 4; ++i) p.push_back(static_cast<char>(bits >> (8 * i)));
    p.push_back(0x18);  // field 3, varint
    varint(p, type);
    message(model, 1, p);
  };
  piece("<unk>", 0, 2);
  piece("<s>", 0, 3);
  piece("</s>", 0, 3);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    piece(name, 0, 6);
  }
  for (const auto& [text, score] : pieces) piece(text, score, 1);
  std::string spec;
  spec += "\x18\x01";      // model_type: unigram
  spec += "\x98\x02\x01";  // byte_fallback (field 35): true
  message(model, 2, spec);
  return model;
}

class GivenTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmzip-given-tokenizer-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
    for (int f = 0; f < 9; ++f)
      std::ofstream(dir_ / "in" / ("f" + std::to_string(f) + ".txt"), std::ios::binary)
          << generated_text(f + 10, 500 + 700 * f);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ / name, std::ios::binary) << data;
    return (dir_ / name).string();
  }
  TrainOptions options(const std::string& model_path) {
    TrainOptions o;
    o.inputs = {(dir_ / "in").string()};
    o.holdout = 0.1;
    o.tokenizer = "sentencepiece";
    o.sentencepiece_model = model_path;
    return o;
  }
  fs::path dir_;
};

const std::vector<std::pair<std::string, float>> kPieces = {
    {"the", -2.0f}, {"\xE2\x96\x81" "cat", -3.0f}, {"\xE2\x96\x81", -1.5f}, {"at", -2.5f}, {". ", -2.0f},
    {"walked", -4.0f}, {"\xE2\x96\x81" "the", -2.2f}, {"e", -3.5f}, {"a", -3.4f}, {"o", -3.6f}};

TEST_F(GivenTokenizerTest, TokenizingInParallelEqualsSerial) {
  TrainOptions o = options(write("sp.model", sentencepiece_model_file(kPieces)));
  o.threads = 1;
  const trainer::Corpus serial = trainer::prepare_corpus(o, "");
  EXPECT_EQ(serial.vocab_size(), 3u + 256u + kPieces.size());
  EXPECT_LT(serial.train.size() + serial.held.size(), serial.total_bytes) << "the pieces are used";
  for (int threads : {2, 4, 16}) {
    o.threads = threads;
    const trainer::Corpus parallel = trainer::prepare_corpus(o, "");
    EXPECT_EQ(parallel.train, serial.train) << threads;
    EXPECT_EQ(parallel.held, serial.held) << threads;
    EXPECT_EQ(parallel.train_starts, serial.train_starts) << threads;
    EXPECT_EQ(parallel.held_starts, serial.held_starts) << threads;
  }
}

TEST_F(GivenTokenizerTest, TheModelIsPartOfTheCacheKey) {
  const std::string cache = (dir_ / "cache").string();
  TrainOptions o = options(write("a.model", sentencepiece_model_file(kPieces)));
  const trainer::Corpus a = trainer::prepare_corpus(o, cache);
  EXPECT_EQ(a.sentencepiece_model, sentencepiece_model_file(kPieces));
  EXPECT_EQ(trainer::prepare_corpus(o, cache).train, a.train);

  // Another model under the same name: tokenized again, not taken from the cache.
  auto fewer = kPieces;
  fewer.resize(3);
  o.sentencepiece_model = write("a.model", sentencepiece_model_file(fewer));
  const trainer::Corpus b = trainer::prepare_corpus(o, cache);
  EXPECT_EQ(b.vocab_size(), 3u + 256u + 3u);
  EXPECT_NE(b.train, a.train);
  o.threads = 1;
  EXPECT_EQ(trainer::prepare_corpus(o, "").train, b.train);
}

TEST_F(GivenTokenizerTest, BadModelFilesFailClearly) {
  auto message = [&](const TrainOptions& o) {
    try {
      trainer::prepare_corpus(o, "");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string missing = (dir_ / "missing.model").string();
  EXPECT_NE(message(options(missing)).find("cannot read " + missing), std::string::npos) << message(options(missing));
  const std::string text = write("text.model", "just some text, not a model\n");
  EXPECT_NE(message(options(text)).find("not a SentencePiece model"), std::string::npos) << message(options(text));
  std::string model = sentencepiece_model_file(kPieces);
  const std::string truncated = write("truncated.model", model.substr(0, model.size() - 1));
  EXPECT_NE(message(options(truncated)).find("not a SentencePiece model (truncated)"), std::string::npos)
      << message(options(truncated));
  // Cut between pieces: the byte pieces and the trainer settings are missing.
  const std::string half = write("half.model", model.substr(0, 96));
  EXPECT_NE(message(options(half)).find("byte fallback"), std::string::npos) << message(options(half));
  TrainOptions bytes = options(write("ok.model", model));
  bytes.tokenizer = "bytes";
  EXPECT_NE(message(bytes).find("needs the sentencepiece tokenizer"), std::string::npos) << message(bytes);
}

// A model that spm_train made, given back: the same tokens as the run that trained it.
TEST_F(GivenTokenizerTest, ReusedModelGivesTheSameTokens) {
  if (std::system("command -v spm_train > /dev/null 2>&1") != 0) GTEST_SKIP() << "spm_train not installed";
  TrainOptions trained = options("");
  trained.vocab_size = 300;
  const trainer::Corpus first = trainer::prepare_corpus(trained, (dir_ / "first").string());
  const trainer::Corpus again =
      trainer::prepare_corpus(options((dir_ / "first" / "tokenizer.model").string()), (dir_ / "second").string());
  EXPECT_EQ(again.sentencepiece_model, first.sentencepiece_model);
  EXPECT_EQ(again.tokenizer->pieces(), first.tokenizer->pieces());
  EXPECT_EQ(again.piece_scores, first.piece_scores);
  EXPECT_EQ(again.train, first.train);
  EXPECT_EQ(again.held, first.held);
}

}  // namespace

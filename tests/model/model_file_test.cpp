// The model file format (docs/model-format.md): layout, round trips, and a
// reader that survives every truncation and corruption.
#include "model/model_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "small_model.h"

namespace lmzip {
namespace {

using Bytes = std::vector<std::uint8_t>;
using testing::small_model;

std::uint32_t u32_at(const Bytes& b, std::size_t offset) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{b[offset + i]} << (8 * i);
  return v;
}

void put_u32(Bytes& b, std::size_t offset, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Parses from a buffer of exactly the given size, so that a reader that looks
// past its end touches memory the sanitizers watch.
ModelFile parse_exact(const Bytes& b, std::size_t size) {
  std::vector<std::uint8_t> copy(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(size));
  return ModelFile::parse(copy.data(), copy.size());
}

// The message of the runtime_error that fn throws; fails the test if none.
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

void expect_rejected(const Bytes& b, const std::string& field) {
  const std::string message = error_of([&] { ModelFile::parse(b.data(), b.size()); });
  EXPECT_EQ(message.rfind("model file: ", 0), 0u) << message;
  EXPECT_NE(message.find(field), std::string::npos) << "expected '" << field << "' in: " << message;
}

void expect_invalid(const ModelFile& m, const std::string& field) {
  const std::string message = error_of([&] { m.validate(); });
  EXPECT_NE(message.find(field), std::string::npos) << "expected '" << field << "' in: " << message;
}

// Offsets computed from the spec's table, independently of the writer.
constexpr std::size_t kNameOffset = 44;
std::size_t embedding_offset(const ModelFile& m) {
  std::size_t at = kNameOffset + 4 + m.name.size() + 4 + m.description.size() + 1 + 4 + m.sentencepiece_model.size() + 4;
  for (const auto& p : m.pieces) at += 4 + p.size();
  at += 4 * m.piece_scores.size();
  return at;
}
std::size_t linear_size(const QuantLinear& l) { return 9 + l.weight.size() + 4 * l.multiplier.size(); }
std::size_t layer_size(const LayerWeights& l) {
  return 4 * l.attn_norm.size() + linear_size(l.wq) + linear_size(l.wk) + linear_size(l.wv) + linear_size(l.wo) + 1 +
         4 * l.attention.score_multiplier.size() + 4 * l.attention.slope.size() + 4 * l.ffn_norm.size() +
         linear_size(l.w1) + linear_size(l.w2);
}
std::size_t first_layer_offset(const ModelFile& m) { return embedding_offset(m) + linear_size(m.embedding); }

void expect_same(const QuantLinear& a, const QuantLinear& b) {
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.in, b.in);
  EXPECT_EQ(a.shift, b.shift);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.multiplier, b.multiplier);
}

void expect_same(const ModelFile& a, const ModelFile& b) {
  EXPECT_EQ(a.config.vocab_size, b.config.vocab_size);
  EXPECT_EQ(a.config.width, b.config.width);
  EXPECT_EQ(a.config.layers, b.config.layers);
  EXPECT_EQ(a.config.heads, b.config.heads);
  EXPECT_EQ(a.config.kv_heads, b.config.kv_heads);
  EXPECT_EQ(a.config.head_dim, b.config.head_dim);
  EXPECT_EQ(a.config.ffn, b.config.ffn);
  EXPECT_EQ(a.config.window, b.config.window);
  EXPECT_EQ(a.config.chunk_bytes, b.config.chunk_bytes);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.tokenizer, b.tokenizer);
  EXPECT_EQ(a.sentencepiece_model, b.sentencepiece_model);
  EXPECT_EQ(a.pieces, b.pieces);
  expect_same(a.embedding, b.embedding);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const LayerWeights& x = a.layers[i];
    const LayerWeights& y = b.layers[i];
    EXPECT_EQ(x.attn_norm, y.attn_norm);
    expect_same(x.wq, y.wq);
    expect_same(x.wk, y.wk);
    expect_same(x.wv, y.wv);
    expect_same(x.wo, y.wo);
    EXPECT_EQ(x.attention.score_shift, y.attention.score_shift);
    EXPECT_EQ(x.attention.score_multiplier, y.attention.score_multiplier);
    EXPECT_EQ(x.attention.slope, y.attention.slope);
    EXPECT_EQ(x.ffn_norm, y.ffn_norm);
    expect_same(x.w1, y.w1);
    expect_same(x.w2, y.w2);
  }
  EXPECT_EQ(a.final_norm, b.final_norm);
  expect_same(a.output, b.output);
  EXPECT_EQ(a.selftest_symbols, b.selftest_symbols);
  EXPECT_EQ(a.selftest_digest, b.selftest_digest);
}

TEST(ModelFile, RoundTripKeepsEveryField) {
  for (std::uint32_t vocab : {256u, 300u, 2u}) {
    SCOPED_TRACE(vocab);
    const ModelFile m = small_model(vocab);
    const Bytes bytes = m.serialize();
    const ModelFile back = ModelFile::parse(bytes.data(), bytes.size());
    expect_same(m, back);
    EXPECT_EQ(back.serialize(), bytes);
  }
}

TEST(ModelFile, LayoutFollowsTheSpec) {
  const ModelFile m = small_model();
  const Bytes b = m.serialize();
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "LMZM");
  const std::uint32_t header[] = {1, 256, 8, 2, 2, 1, 4, 16, 8, 4096};
  for (std::size_t i = 0; i < std::size(header); ++i) EXPECT_EQ(u32_at(b, 4 + 4 * i), header[i]) << "field " << i;
  EXPECT_EQ(u32_at(b, kNameOffset), m.name.size());
  EXPECT_EQ(std::string(b.begin() + 48, b.begin() + 48 + 5), "small");
  const std::size_t tokenizer_at = kNameOffset + 4 + m.name.size() + 4 + m.description.size();
  EXPECT_EQ(b[tokenizer_at], 0);                       // bytes
  EXPECT_EQ(u32_at(b, tokenizer_at + 1), 0u);          // no SentencePiece model
  EXPECT_EQ(u32_at(b, tokenizer_at + 5), 256u);        // piece count
  EXPECT_EQ(u32_at(b, tokenizer_at + 9), 1u);          // piece 0: one byte...
  EXPECT_EQ(b[tokenizer_at + 13], 0);                  // ...of value 0
  const std::size_t e = embedding_offset(m);
  EXPECT_EQ(u32_at(b, e), 257u);
  EXPECT_EQ(u32_at(b, e + 4), 8u);
  EXPECT_EQ(b[e + 8], m.embedding.shift);
  EXPECT_EQ(static_cast<std::int8_t>(b[e + 9]), m.embedding.weight[0]);
  EXPECT_EQ(static_cast<std::int32_t>(u32_at(b, e + 9 + 257 * 8)), m.embedding.multiplier[0]);
  const std::size_t l0 = first_layer_offset(m);
  EXPECT_EQ(static_cast<std::int32_t>(u32_at(b, l0)), m.layers[0].attn_norm[0]);
  const std::size_t score_at = l0 + 4 * 8 + linear_size(m.layers[0].wq) + linear_size(m.layers[0].wk) +
                               linear_size(m.layers[0].wv) + linear_size(m.layers[0].wo);
  const LayerWeights& layer = m.layers[0];
  const std::size_t wk_at = l0 + 4 * 8 + linear_size(layer.wq);
  EXPECT_EQ(static_cast<std::int8_t>(b[wk_at + 9]), layer.wk.weight[0]);
  EXPECT_EQ(static_cast<std::int8_t>(b[wk_at + linear_size(layer.wk) + 9]), layer.wv.weight[0]);
  EXPECT_EQ(b[score_at], layer.attention.score_shift);
  EXPECT_EQ(static_cast<std::int32_t>(u32_at(b, score_at + 1)), layer.attention.score_multiplier[0]);
  EXPECT_EQ(static_cast<std::int32_t>(u32_at(b, score_at + 1 + 8)), layer.attention.slope[0]);
  const std::size_t ffn_norm_at = score_at + 1 + 16;
  EXPECT_EQ(static_cast<std::int32_t>(u32_at(b, ffn_norm_at)), layer.ffn_norm[0]);
  const std::size_t w1_at = ffn_norm_at + 4 * 8;
  EXPECT_EQ(u32_at(b, w1_at), 16u);  // w1 is ffn x width
  EXPECT_EQ(u32_at(b, w1_at + linear_size(layer.w1)), 8u);  // w2 is width x ffn
  EXPECT_EQ(u32_at(b, w1_at + linear_size(layer.w1) + 4), 16u);
  const std::size_t tail = l0 + layer_size(m.layers[0]) + layer_size(m.layers[1]) + 4 * 8 + linear_size(m.output);
  EXPECT_EQ(u32_at(b, tail), 4u);  // self-test symbol count
  EXPECT_EQ(u32_at(b, tail + 16), 255u);
  EXPECT_EQ(b.size(), tail + 4 + 16 + 32);
  EXPECT_EQ(b.back(), m.selftest_digest.back());
}

TEST(ModelFile, EveryTruncationThrows) {
  const Bytes b = small_model().serialize();
  for (std::size_t size = 0; size < b.size(); ++size) {
    EXPECT_THROW(parse_exact(b, size), std::runtime_error) << "size " << size;
  }
  EXPECT_NO_THROW(parse_exact(b, b.size()));
}

TEST(ModelFile, TrailingBytesRejected) {
  Bytes b = small_model().serialize();
  b.push_back(0);
  expect_rejected(b, "trailing");
}

// Every byte of the file, changed three ways: the reader throws, or what it
// accepts is a valid model that writes back to exactly the corrupted bytes.
TEST(ModelFile, SingleByteCorruptionsThrowOrParseToAValidModel) {
  const Bytes b = small_model(300, 1).serialize();
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      Bytes c = b;
      c[i] ^= flip;
      try {
        const ModelFile m = ModelFile::parse(c.data(), c.size());
        EXPECT_NO_THROW(m.validate());
        EXPECT_EQ(m.serialize(), c) << "byte " << i;
        ++accepted;
      } catch (const std::runtime_error&) {
      }
    }
  }
  // Most bytes are weights, where most changes are legal.
  EXPECT_GT(accepted, b.size());
}

TEST(ModelFile, HeaderSizesOutsideTheirRangesRejected) {
  const Bytes good = small_model().serialize();
  struct Case {
    std::size_t offset;
    std::uint32_t value;
    const char* field;
  };
  const Case cases[] = {
      {4, 2, "version"},        {8, 1, "vocab_size"},      {8, 65537, "vocab_size"},
      {12, 0, "width"},         {12, 12, "width"},         {12, 4104, "width"},
      {16, 0, "layers"},        {16, 65, "layers"},        {20, 0, "heads"},
      {20, 65, "heads"},        {24, 0, "kv_heads"},       {24, 3, "kv_heads"},
      {28, 3, "head_dim"},      {28, 257, "head_dim"},     {32, 7, "ffn"},
      {32, 16385, "ffn"},       {36, 0, "window"},         {36, kMaxWindow + 1, "window"},
      {40, 1023, "chunk_bytes"}, {40, (16u << 20) + 1, "chunk_bytes"},
      {44, 256, "name length"}, {44, 0xffffffffu, "name length"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.field) + " = " + std::to_string(c.value));
    Bytes b = good;
    put_u32(b, c.offset, c.value);
    expect_rejected(b, c.field);
  }
  Bytes heads_indivisible = good;  // heads 3, kv_heads 2
  put_u32(heads_indivisible, 20, 3);
  put_u32(heads_indivisible, 24, 2);
  expect_rejected(heads_indivisible, "does not divide");
  Bytes magic = good;
  magic[0] = 'X';
  expect_rejected(magic, "magic");
}

TEST(ModelFile, HugeCountsFailBeforeAllocating) {
  const ModelFile m = small_model();
  const Bytes good = m.serialize();
  const std::size_t description_at = kNameOffset + 4 + m.name.size();
  Bytes b = good;
  put_u32(b, description_at, 0xfffffff0u);
  expect_rejected(b, "description: truncated");
  // Sizes that agree with each other but not with the bytes that follow.
  const std::size_t tokenizer_at = description_at + 4 + m.description.size();
  b = good;
  b[tokenizer_at] = 1;  // a SentencePiece model may have any vocabulary size
  put_u32(b, 8, 65536);
  put_u32(b, tokenizer_at + 5, 65536);
  expect_rejected(b, "pieces: truncated");
  const std::size_t e = embedding_offset(m);
  b = good;
  put_u32(b, 12, 4096);  // width
  put_u32(b, e + 4, 4096);
  expect_rejected(b, "embedding.weight: truncated (needs 1052672 bytes");
  b = good;
  put_u32(b, 8, 255);  // vocab_size no longer matches the piece table
  expect_rejected(b, "pieces count: 256, expected vocab_size 255");
}

TEST(ModelFile, StructuralFieldsRejected) {
  const ModelFile m = small_model();
  const Bytes good = m.serialize();
  const std::size_t tokenizer_at = kNameOffset + 4 + m.name.size() + 4 + m.description.size();
  Bytes b = good;
  b[tokenizer_at] = 2;
  expect_rejected(b, "tokenizer");
  b = good;
  b[tokenizer_at + 9 + 4 + 1 + 4] = 7;  // piece 1 is no longer byte 1
  expect_rejected(b, "pieces[1]");

  const std::size_t e = embedding_offset(m);
  b = good;
  put_u32(b, e, 256);
  expect_rejected(b, "embedding.out");
  b = good;
  b[e + 8] = 0;
  expect_rejected(b, "embedding.shift");
  b = good;
  b[e + 8] = 63;
  expect_rejected(b, "embedding.shift");
  b = good;
  b[e + 9 + 5] = 0x80;
  expect_rejected(b, "embedding.weight[5]: -128");
  b = good;
  put_u32(b, e + 9 + 257 * 8 + 4 * 3, 0x80000000u);
  expect_rejected(b, "embedding.multiplier[3]: negative");
  b = good;
  b[e + 8] = 1;  // shift 1 with the largest multiplier puts r outside +-2^24
  put_u32(b, e + 9 + 257 * 8 + 4 * 3, 0x7fffffffu);
  expect_rejected(b, "embedding.multiplier[3]: 2147483647 puts the embedding outside");

  const std::size_t l0 = first_layer_offset(m);
  b = good;
  put_u32(b, l0 + 4 * 2, 0xffffffffu);
  expect_rejected(b, "layers[0].attn_norm[2]: negative");
  b = good;
  put_u32(b, l0 + 4 * 8, 9);  // wq.out must be heads * head_dim = 8
  expect_rejected(b, "layers[0].wq.out");
  const std::size_t score_at = l0 + 4 * 8 + linear_size(m.layers[0].wq) + linear_size(m.layers[0].wk) +
                               linear_size(m.layers[0].wv) + linear_size(m.layers[0].wo);
  b = good;
  b[score_at] = 0;
  expect_rejected(b, "layers[0].score_shift");
  b = good;
  put_u32(b, score_at + 1 + 4 * 2 + 4, 0xfffffffeu);
  expect_rejected(b, "layers[0].slope[1]: negative");

  const std::size_t tail = b.size() - 32 - 4 * 4 - 4;
  b = good;
  put_u32(b, tail, 0);
  expect_rejected(b, "selftest_symbols count");
  b = good;
  put_u32(b, tail, 4097);
  expect_rejected(b, "selftest_symbols count");
  b = good;
  put_u32(b, tail, 5);  // one symbol more than the file holds
  expect_rejected(b, "truncated");
  b = good;
  put_u32(b, tail + 4, 256);
  expect_rejected(b, "selftest_symbols[0]");
}

TEST(ModelFile, ValidateChecksCrossFieldConsistency) {
  const ModelFile good = small_model();
  EXPECT_NO_THROW(good.validate());
  auto changed = [&](const std::function<void(ModelFile&)>& change) {
    ModelFile m = good;
    change(m);
    return m;
  };
  expect_invalid(changed([](ModelFile& m) { m.config.kv_heads = 3; }), "kv_heads");
  expect_invalid(changed([](ModelFile& m) { m.config.vocab_size = 257; }), "pieces");
  expect_invalid(changed([](ModelFile& m) { m.piece_scores.pop_back(); }), "piece_scores");
  expect_invalid(changed([](ModelFile& m) {
                   m.config.vocab_size = 255;
                   m.pieces.pop_back();
                   m.piece_scores.pop_back();
                 }),
                 "vocab_size: 255, a byte model has 256");
  expect_invalid(changed([](ModelFile& m) { m.sentencepiece_model = "x"; }), "sentencepiece_model");
  expect_invalid(changed([](ModelFile& m) { std::swap(m.pieces[3], m.pieces[4]); }), "pieces[3]");
  expect_invalid(changed([](ModelFile& m) { m.name.assign(256, 'n'); }), "name");
  expect_invalid(changed([](ModelFile& m) { m.layers.pop_back(); }), "layers");
  expect_invalid(changed([](ModelFile& m) { m.embedding.weight.pop_back(); }), "embedding.weight");
  expect_invalid(changed([](ModelFile& m) { m.embedding.multiplier.pop_back(); }), "embedding.multiplier");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].wq.weight[3] = -128; }), "layers[1].wq.weight[3]");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].wk.out = 8; }), "layers[1].wk.out");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].wv.in = 16; }), "layers[1].wv.in");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].wo.multiplier[0] = -1; }), "layers[1].wo.multiplier[0]");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].w1.shift = 63; }), "layers[1].w1.shift");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].w2.in = 8; }), "layers[1].w2.in");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].ffn_norm[7] = -5; }), "layers[1].ffn_norm[7]");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].attention.score_multiplier.pop_back(); }),
                 "layers[1].score_multiplier");
  expect_invalid(changed([](ModelFile& m) { m.layers[1].attention.slope[0] = -1; }), "layers[1].slope[0]");
  expect_invalid(changed([](ModelFile& m) { m.final_norm.push_back(1); }), "final_norm");
  expect_invalid(changed([](ModelFile& m) { m.output.out = 255; }), "output.out");
  expect_invalid(changed([](ModelFile& m) { m.selftest_symbols.clear(); }), "selftest_symbols");
  expect_invalid(changed([](ModelFile& m) { m.selftest_symbols.assign(4097, 0); }), "selftest_symbols");
  expect_invalid(changed([](ModelFile& m) { m.selftest_symbols[0] = 256; }), "selftest_symbols[0]");
  expect_invalid(changed([](ModelFile& m) {
                   m.embedding.shift = 1;
                   m.embedding.multiplier[9] = 1 << 30;
                 }),
                 "embedding.multiplier[9]");
  // serialize() refuses to write what validate() rejects.
  EXPECT_THROW(changed([](ModelFile& m) { m.output.out = 255; }).serialize(), std::runtime_error);
}

TEST(ModelFile, SentencePieceModelsAllowAnyPieces) {
  ModelFile m = small_model(300);
  m.pieces[0] = "";              // control symbols stand for no bytes
  m.pieces[299] = std::string(1024, 'x');
  const Bytes b = m.serialize();
  expect_same(ModelFile::parse(b.data(), b.size()), m);
  m.pieces[299] += 'x';
  expect_invalid(m, "pieces[299]");
}

class ModelFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lmzip-model-file-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ModelFileOnDisk, SaveThenLoadGivesTheModelAndItsHash) {
  const ModelFile m = small_model();
  const std::string path = (dir_ / "small.lmzm").string();
  std::ofstream(path) << "an older file that save() replaces";
  m.save(path);
  // Only the model remains: the temporary file was renamed over the old one.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1);
  std::ifstream in(path, std::ios::binary);
  const Bytes on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, m.serialize());
  Sha256Digest id{};
  const ModelFile back = ModelFile::load(path, &id);
  expect_same(back, m);
  EXPECT_EQ(id, sha256(on_disk.data(), on_disk.size()));
}

TEST_F(ModelFileOnDisk, LoadRejectsMissingAndMalformedFiles) {
  const std::string missing = (dir_ / "missing.lmzm").string();
  EXPECT_NE(error_of([&] { ModelFile::load(missing); }).find(missing), std::string::npos);
  const std::string bad = (dir_ / "bad.lmzm").string();
  std::ofstream(bad) << "LMZM";
  EXPECT_NE(error_of([&] { ModelFile::load(bad); }).find("version"), std::string::npos);
}

TEST_F(ModelFileOnDisk, SaveIntoAMissingDirectoryThrowsAndLeavesNothing) {
  const std::string path = (dir_ / "no-such-dir" / "m.lmzm").string();
  EXPECT_THROW(small_model().save(path), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace lmzip

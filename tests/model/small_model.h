// A small, valid model built by hand (no random_model(), no network), so the
// file-format tests stand on their own.
#pragma once
#include <cstdint>
#include <string>

#include "../common/small_models.h"
#include "model/model_file.h"

namespace lmzip::testing {

// Deterministic filler: a 64-bit LCG, good enough to make every field differ.
class Filler {
 public:
  explicit Filler(std::uint64_t seed) : state_(seed) {}
  std::uint32_t next(std::uint32_t n) {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>((state_ >> 33) % n);
  }
  QuantLinear linear(std::uint32_t out, std::uint32_t in) {
    QuantLinear l;
    l.out = out;
    l.in = in;
    l.shift = static_cast<std::uint8_t>(10 + next(10));
    for (std::uint32_t i = 0; i < out * in; ++i) l.weight.push_back(static_cast<std::int8_t>(int(next(255)) - 127));
    for (std::uint32_t o = 0; o < out; ++o) l.multiplier.push_back(static_cast<std::int32_t>(1 + next(1000)));
    return l;
  }
  std::vector<std::int32_t> gains(std::uint32_t n) {
    std::vector<std::int32_t> g;
    for (std::uint32_t i = 0; i < n; ++i) g.push_back(static_cast<std::int32_t>(next(20000)));
    return g;
  }

 private:
  std::uint64_t state_;
};

// vocab_size 256 gives a byte model; any other size a SentencePiece-kind model
// whose pieces are the first bytes followed by short strings.
inline ModelFile small_model(std::uint32_t vocab_size = 256, std::uint32_t layers = 2) {
  Filler f(vocab_size * 31 + layers);
  ModelFile m;
  m.config = smallest_config(vocab_size);
  m.config.layers = layers;
  m.config.ffn = 16;
  m.config.chunk_bytes = 4096;
  m.name = "small";
  m.description = "hand-built test model";
  m.tokenizer = vocab_size == 256 ? TokenizerKind::Bytes : TokenizerKind::SentencePiece;
  if (vocab_size != 256) m.sentencepiece_model = "not a real ModelProto";
  for (std::uint32_t i = 0; i < vocab_size; ++i) {
    m.pieces.push_back(i < 256 ? std::string(1, static_cast<char>(i)) : "ab" + std::to_string(i));
    m.piece_scores.push_back(vocab_size == 256 ? 0 : -static_cast<std::int32_t>(i));
  }
  const ModelConfig& c = m.config;
  m.embedding = f.linear(c.vocab_size + 1, c.width);
  for (std::uint32_t l = 0; l < c.layers; ++l) {
    LayerWeights w;
    w.attn_norm = f.gains(c.width);
    w.wq = f.linear(c.heads * c.head_dim, c.width);
    w.wk = f.linear(c.kv_heads * c.head_dim, c.width);
    w.wv = f.linear(c.kv_heads * c.head_dim, c.width);
    w.wo = f.linear(c.width, c.heads * c.head_dim);
    w.attention.score_shift = 12;
    w.attention.score_multiplier = f.gains(c.heads);
    w.attention.slope = {64, 8};
    w.ffn_norm = f.gains(c.width);
    w.w1 = f.linear(c.ffn, c.width);
    w.w2 = f.linear(c.width, c.ffn);
    m.layers.push_back(std::move(w));
  }
  m.final_norm = f.gains(c.width);
  m.output = f.linear(c.vocab_size, c.width);
  m.selftest_symbols = {1 % vocab_size, 2 % vocab_size, 3 % vocab_size, vocab_size - 1};
  for (std::size_t i = 0; i < m.selftest_digest.size(); ++i) m.selftest_digest[i] = static_cast<std::uint8_t>(i * 7);
  return m;
}

}  // namespace lmzip::testing

// The model file: hyperparameters, tokenizer and integer weights in one
// self-describing, versioned file (docs/model-format.md). Its SHA-256 names it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hash/sha256.h"

namespace lmzip {

// The longest attention window a model file may declare: the CPU's int32
// attention sums are exact up to it.
constexpr std::uint32_t kMaxWindow = 4096;

struct ModelConfig {
  std::uint32_t vocab_size = 256;   // V output symbols; input adds BOS = V
  std::uint32_t width = 256;        // d, the residual stream
  std::uint32_t layers = 4;
  std::uint32_t heads = 8;          // query heads
  std::uint32_t kv_heads = 1;       // key/value heads (heads % kv_heads == 0)
  std::uint32_t head_dim = 32;
  std::uint32_t ffn = 1024;         // hidden width of the feed-forward block
  std::uint32_t window = 256;       // attention span in symbols, the current one included (<= kMaxWindow)
  std::uint32_t chunk_bytes = 65536;  // default chunk size for compression
};

enum class TokenizerKind : std::uint8_t { Bytes = 0, SentencePiece = 1 };

// y[o] = sum_i weight[o * in + i] * x[i], then requantized with
// round_shift(y[o] * multiplier[o], shift). For the embedding, row t is the
// vector of token t and multiplier[t] scales it into the residual stream.
struct QuantLinear {
  std::uint32_t out = 0;
  std::uint32_t in = 0;
  std::uint8_t shift = 0;
  std::vector<std::int8_t> weight;       // [out][in], each in [-127, 127]
  std::vector<std::int32_t> multiplier;  // [out], each >= 0
};

struct AttentionParams {
  std::uint8_t score_shift = 0;
  std::vector<std::int32_t> score_multiplier;  // [heads]: q.k -> logits in 1/256 nat
  std::vector<std::int32_t> slope;             // [heads]: logit penalty per position of distance, 1/256 nat
};

struct LayerWeights {
  std::vector<std::int32_t> attn_norm;  // [width] RMSNorm gains, 8 fractional bits
  QuantLinear wq, wk, wv, wo;
  AttentionParams attention;
  std::vector<std::int32_t> ffn_norm;   // [width]
  QuantLinear w1, w2;
};

struct ModelFile {
  ModelConfig config;
  std::string name;         // e.g. "default"
  std::string description;  // free text: training data, steps, licence
  TokenizerKind tokenizer = TokenizerKind::Bytes;
  std::string sentencepiece_model;   // serialized ModelProto when tokenizer == SentencePiece
  std::vector<std::string> pieces;   // bytes of every symbol id; size == vocab_size
  std::vector<std::int32_t> piece_scores;  // [vocab_size], the encoder's preference (tokenizer.h); 0s for bytes
  QuantLinear embedding;             // out = V + 1 rows, in = width
  std::vector<LayerWeights> layers;
  std::vector<std::int32_t> final_norm;  // [width]
  QuantLinear output;                    // out = V, in = width: logits in 1/32 nat
  // Self-test: the frequency tables for these symbols must hash to this digest.
  std::vector<std::uint32_t> selftest_symbols;
  Sha256Digest selftest_digest{};

  // Checks every size and bound the network relies on; throws std::runtime_error.
  void validate() const;
  std::vector<std::uint8_t> serialize() const;
  // Throws std::runtime_error naming the field for anything malformed.
  static ModelFile parse(const std::uint8_t* data, std::size_t size);
  // Reads, parses and validates; sets *id to the SHA-256 of the file bytes if given.
  static ModelFile load(const std::string& path, Sha256Digest* id = nullptr);
  void save(const std::string& path) const;  // write to temp file, rename
};

// Checks the hyperparameters against their documented ranges; throws
// std::runtime_error naming the field.
void validate_config(const ModelConfig& config);

// Runs the reference network over model.selftest_symbols and sets the digest.
void fill_selftest(ModelFile& model);

}  // namespace lmzip

// The fixed-seed model generator (random_model.h). Integers only, so that a
// seed gives the same bytes with every compiler and standard library.
#include "model/random_model.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "model/int_ops.h"
#include "model/xoshiro256.h"

namespace lmzip {
namespace {

// The generator's draws: xoshiro256** (model/xoshiro256.h), in integers.
class Xoshiro256Draws : public Xoshiro256 {
 public:
  using Xoshiro256::Xoshiro256;
  // Uniform in [0, n) up to a bias below n / 2^64, irrelevant here.
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Scales base by a factor in [7/8, 9/8] so channels differ a little.
  std::int32_t jitter(std::int64_t base) {
    const std::int64_t v = (base * (224 + static_cast<std::int64_t>(below(65))) + 128) >> 8;
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(v, 1, std::numeric_limits<std::int32_t>::max()));
  }

};

// Statistics random_model() aims for, in the integer network's units. The scales are
// computed in integers so that a seed gives the same file everywhere.
constexpr std::int64_t kWeightStd = 73;       // uniform in [-127, 127]
constexpr std::int64_t kEmbeddingStd = 1024;  // r after the embedding
constexpr std::int64_t kNormGain = 256 * 40;  // norm output std ~40
constexpr std::int64_t kNormStd = 40;
constexpr std::int64_t kProjectionStd = 32;   // q, k, v
constexpr std::int64_t kResidualAddStd = 256; // what each block adds to r
constexpr std::int64_t kFfnPreStd = 100;      // t before squaring: u = t^2/256 mostly below 127
constexpr std::int64_t kFfnOutStd = 32;       // u, counting the zeros of the ReLU
constexpr std::int64_t kAttnOutStd = 20;      // o is an average of v, so narrower than v
constexpr std::int64_t kScoreStd = 512;       // attention logits, 1/256 nat: ~2 nats
constexpr std::int64_t kLogitStd = 48;        // output logits, 1/32 nat: ~1.5 nats
constexpr unsigned kLinearShift = 24;

// The multiplier m with shift s such that a dot product of `in` terms with
// std a and b comes out with std ~target: m / 2^s = target / (sqrt(in)·a·b).
std::int64_t multiplier_for(std::int64_t target, std::uint32_t in, std::int64_t a, std::int64_t b, unsigned shift) {
  const std::int64_t sqrt_in_x256 = intops::isqrt(std::int64_t{in} << 16);
  const std::int64_t den = sqrt_in_x256 * a * b;
  return std::max<std::int64_t>(1, ((target << shift << 8) + den / 2) / den);
}

QuantLinear random_linear(Xoshiro256Draws& rng, std::uint32_t out, std::uint32_t in, unsigned shift,
                          std::int64_t multiplier) {
  QuantLinear l;
  l.out = out;
  l.in = in;
  l.shift = static_cast<std::uint8_t>(shift);
  l.weight.resize(std::size_t{out} * in);
  for (auto& w : l.weight) w = static_cast<std::int8_t>(static_cast<int>(rng.below(255)) - 127);
  l.multiplier.resize(out);
  for (auto& m : l.multiplier) m = rng.jitter(multiplier);
  return l;
}

std::vector<std::int32_t> random_gains(Xoshiro256Draws& rng, std::uint32_t size) {
  std::vector<std::int32_t> g(size);
  for (auto& x : g) x = rng.jitter(kNormGain);
  return g;
}

// ALiBi slopes 256·2^(-8(h+1)/heads), at least 1, in Q30 fixed point: the
// ratio r = 2^(-8/heads) is the largest Q30 value whose heads-th power does
// not exceed 2^-8.
std::vector<std::int32_t> alibi_slopes(std::uint32_t heads) {
  constexpr std::uint64_t one = std::uint64_t{1} << 30;
  auto power = [](std::uint64_t r, std::uint32_t n) {
    std::uint64_t p = one;
    for (std::uint32_t i = 0; i < n; ++i) p = (p * r) >> 30;
    return p;
  };
  std::uint64_t lo = 0, hi = one;  // power(lo) <= 2^-8 < power(hi)
  while (hi - lo > 1) {
    const std::uint64_t mid = (lo + hi) / 2;
    if (power(mid, heads) <= (one >> 8)) lo = mid; else hi = mid;
  }
  std::vector<std::int32_t> slopes(heads);
  for (std::uint32_t h = 0; h < heads; ++h) {
    const std::uint64_t s = (power(lo, h + 1) * 256 + one / 2) >> 30;
    slopes[h] = static_cast<std::int32_t>(std::max<std::uint64_t>(s, 1));
  }
  return slopes;
}

}  // namespace

ModelFile random_model(const ModelConfig& config, std::uint64_t seed) {
  validate_config(config);
  const ModelConfig& c = config;
  Xoshiro256Draws rng(seed);
  ModelFile m;
  m.config = c;
  m.name = "random-" + std::to_string(seed);
  // The text is part of the pinned files (the fuzz corpus names models by hash).
  m.description = "untrained: weights from ModelFile::random, seed " + std::to_string(seed);

  // Single bytes first (all 256 when V allows), then 2- and 3-byte strings.
  m.tokenizer = c.vocab_size == 256 ? TokenizerKind::Bytes : TokenizerKind::SentencePiece;
  m.pieces.reserve(c.vocab_size);
  for (std::uint32_t i = 0; i < c.vocab_size && i < 256; ++i) m.pieces.emplace_back(1, static_cast<char>(i));
  while (m.pieces.size() < c.vocab_size) {
    std::string piece(2 + rng.below(2), '\0');
    for (char& ch : piece) ch = static_cast<char>(rng.below(256));
    m.pieces.push_back(std::move(piece));
  }
  // Bytes need no scores; a token table prefers fewer, longer pieces.
  for (const auto& p : m.pieces)
    m.piece_scores.push_back(c.vocab_size == 256 ? 0 : -1024 + static_cast<std::int32_t>(p.size()));

  const std::uint32_t qdim = c.heads * c.head_dim;
  const std::uint32_t kvdim = c.kv_heads * c.head_dim;
  const unsigned s = kLinearShift;
  // Embedding rows: std kWeightStd scaled to kEmbeddingStd (shift 16 keeps the
  // multiplier well inside int32).
  m.embedding = random_linear(rng, c.vocab_size + 1, c.width, 16, (kEmbeddingStd << 16) / kWeightStd);
  m.layers.resize(c.layers);
  for (LayerWeights& l : m.layers) {
    l.attn_norm = random_gains(rng, c.width);
    const std::int64_t proj = multiplier_for(kProjectionStd, c.width, kWeightStd, kNormStd, s);
    l.wq = random_linear(rng, qdim, c.width, s, proj);
    l.wk = random_linear(rng, kvdim, c.width, s, proj);
    l.wv = random_linear(rng, kvdim, c.width, s, proj);
    l.wo = random_linear(rng, c.width, qdim, s, multiplier_for(kResidualAddStd, qdim, kWeightStd, kAttnOutStd, s));
    l.attention.score_shift = 16;
    const std::int64_t score = multiplier_for(kScoreStd, c.head_dim, kProjectionStd, kProjectionStd, 16);
    for (std::uint32_t h = 0; h < c.heads; ++h) l.attention.score_multiplier.push_back(rng.jitter(score));
    l.attention.slope = alibi_slopes(c.heads);
    l.ffn_norm = random_gains(rng, c.width);
    l.w1 = random_linear(rng, c.ffn, c.width, s, multiplier_for(kFfnPreStd, c.width, kWeightStd, kNormStd, s));
    l.w2 = random_linear(rng, c.width, c.ffn, s, multiplier_for(kResidualAddStd, c.ffn, kWeightStd, kFfnOutStd, s));
  }
  m.final_norm = random_gains(rng, c.width);
  m.output = random_linear(rng, c.vocab_size, c.width, s, multiplier_for(kLogitStd, c.width, kWeightStd, kNormStd, s));

  m.selftest_symbols.resize(32);
  for (auto& sym : m.selftest_symbols) sym = rng.below(c.vocab_size);
  m.validate();
  fill_selftest(m);
  return m;
}

}  // namespace lmzip

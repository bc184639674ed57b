// The reference integer network: docs/model-format.md transcribed into plain
// loops over one stream. Slow by design; the fast paths must match it bit for bit.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "model/exp_tables.h"
#include "model/int_ops.h"
#include "model/network.h"

namespace lmzip {

using namespace intops;

namespace {

std::vector<std::int32_t> linear(const QuantLinear& l, const std::vector<std::int32_t>& x) {
  std::vector<std::int32_t> acc(l.out);
  for (std::uint32_t o = 0; o < l.out; ++o) {
    std::int64_t sum = 0;
    for (std::uint32_t i = 0; i < l.in; ++i) sum += std::int64_t{l.weight[std::size_t{o} * l.in + i]} * x[i];
    acc[o] = static_cast<std::int32_t>(sum);
  }
  return acc;
}

std::vector<std::int32_t> requant8(const QuantLinear& l, const std::vector<std::int32_t>& acc) {
  std::vector<std::int32_t> y(l.out);
  for (std::uint32_t o = 0; o < l.out; ++o)
    y[o] = static_cast<std::int32_t>(clamp(round_shift(std::int64_t{acc[o]} * l.multiplier[o], l.shift), -127, 127));
  return y;
}

void residual_add(const QuantLinear& l, const std::vector<std::int32_t>& acc, std::vector<std::int32_t>& r) {
  for (std::uint32_t o = 0; o < l.out; ++o)
    r[o] = static_cast<std::int32_t>(
        clamp(r[o] + round_shift(std::int64_t{acc[o]} * l.multiplier[o], l.shift), -kResidualLimit, kResidualLimit));
}

std::vector<std::int32_t> norm(const std::vector<std::int32_t>& r, const std::vector<std::int32_t>& gain) {
  std::int64_t ss = 0;
  for (std::int32_t v : r) ss += std::int64_t{v} * v;
  const std::int64_t rms = std::max<std::int64_t>(1, isqrt(ss / static_cast<std::int64_t>(r.size())));
  std::vector<std::int32_t> x(r.size());
  for (std::size_t c = 0; c < r.size(); ++c)
    x[c] = static_cast<std::int32_t>(clamp(round_div(std::int64_t{r[c]} * gain[c], rms * 256), -127, 127));
  return x;
}

}  // namespace

struct ReferenceNetwork::Impl {
  const ModelFile& model;
  std::uint32_t t = 0;
  // keys[layer][position] and values[layer][position], kv_heads * head_dim each.
  std::vector<std::vector<std::vector<std::int32_t>>> keys, values;
  explicit Impl(const ModelFile& m) : model(m) {}
};

ReferenceNetwork::ReferenceNetwork(const ModelFile& model) : impl_(std::make_shared<Impl>(model)) { reset(); }

void ReferenceNetwork::reset() {
  impl_->t = 0;
  impl_->keys.assign(impl_->model.config.layers, {});
  impl_->values.assign(impl_->model.config.layers, {});
}

void ReferenceNetwork::step(std::uint32_t symbol, std::uint32_t* freqs) {
  const ModelFile& m = impl_->model;
  const ModelConfig& c = m.config;
  if (symbol > c.vocab_size) throw std::out_of_range("reference network: symbol out of range");
  const std::uint32_t t = impl_->t++;
  const std::uint32_t dh = c.head_dim;
  const std::uint32_t group = c.heads / c.kv_heads;

  std::vector<std::int32_t> r(c.width);
  for (std::uint32_t i = 0; i < c.width; ++i)
    r[i] = static_cast<std::int32_t>(round_shift(
        std::int64_t{m.embedding.weight[std::size_t{symbol} * c.width + i]} * m.embedding.multiplier[symbol],
        m.embedding.shift));

  for (std::uint32_t l = 0; l < c.layers; ++l) {
    const LayerWeights& w = m.layers[l];
    std::vector<std::int32_t> x = norm(r, w.attn_norm);
    std::vector<std::int32_t> q = requant8(w.wq, linear(w.wq, x));
    impl_->keys[l].push_back(requant8(w.wk, linear(w.wk, x)));
    impl_->values[l].push_back(requant8(w.wv, linear(w.wv, x)));

    const std::uint32_t first = t + 1 > c.window ? t + 1 - c.window : 0;
    std::vector<std::int32_t> o(std::size_t{c.heads} * dh);
    for (std::uint32_t h = 0; h < c.heads; ++h) {
      const std::uint32_t g = h / group;
      std::vector<std::int64_t> z;
      for (std::uint32_t j = first; j <= t; ++j) {
        std::int64_t dot = 0;
        for (std::uint32_t i = 0; i < dh; ++i) dot += std::int64_t{q[h * dh + i]} * impl_->keys[l][j][g * dh + i];
        z.push_back(round_shift(dot * w.attention.score_multiplier[h], w.attention.score_shift) -
                    std::int64_t{w.attention.slope[h]} * (t - j));
      }
      const std::int64_t zmax = *std::max_element(z.begin(), z.end());
      std::int64_t psum = 0;
      std::vector<std::int64_t> acc(dh, 0);
      for (std::uint32_t j = first; j <= t; ++j) {
        const std::int64_t p = kAttExp[std::min<std::int64_t>((zmax - z[j - first] + 8) >> 4, 159)];
        psum += p;
        for (std::uint32_t i = 0; i < dh; ++i) acc[i] += p * impl_->values[l][j][g * dh + i];
      }
      for (std::uint32_t i = 0; i < dh; ++i) o[h * dh + i] = static_cast<std::int32_t>(round_div(acc[i], psum));
    }
    residual_add(w.wo, linear(w.wo, o), r);

    x = norm(r, w.ffn_norm);
    std::vector<std::int32_t> a = linear(w.w1, x);
    std::vector<std::int32_t> u(c.ffn);
    for (std::uint32_t i = 0; i < c.ffn; ++i) {
      const std::int64_t tq =
          std::min<std::int64_t>(round_shift(std::int64_t{std::max(a[i], 0)} * w.w1.multiplier[i], w.w1.shift), 4095);
      u[i] = static_cast<std::int32_t>(std::min<std::int64_t>((tq * tq + 128) >> 8, 127));
    }
    residual_add(w.w2, linear(w.w2, u), r);
  }

  std::vector<std::int32_t> x = norm(r, m.final_norm);
  std::vector<std::int32_t> logits = linear(m.output, x);
  std::vector<std::int64_t> z(c.vocab_size);
  for (std::uint32_t i = 0; i < c.vocab_size; ++i)
    z[i] = round_shift(std::int64_t{logits[i]} * m.output.multiplier[i], m.output.shift);
  const std::int64_t zmax = *std::max_element(z.begin(), z.end());
  for (std::uint32_t i = 0; i < c.vocab_size; ++i)
    freqs[i] = 1 + kOutExp[std::min<std::int64_t>(zmax - z[i], 383)];
}

Sha256Digest selftest_digest(Predictor& predictor, const ModelFile& model) {
  std::vector<std::uint32_t> freqs(model.config.vocab_size);
  Sha256 hash;
  const std::uint32_t slot = 0;
  predictor.reset(slot);
  auto feed = [&](std::uint32_t s) {
    predictor.step(&slot, &s, 1, freqs.data());
    hash.update(freqs.data(), freqs.size() * sizeof(std::uint32_t));
  };
  feed(model.config.vocab_size);
  for (std::uint32_t s : model.selftest_symbols) feed(s);
  predictor.reset(slot);
  return hash.finish();
}

void fill_selftest(ModelFile& model) {
  ReferenceNetwork net(model);
  std::vector<std::uint32_t> freqs(model.config.vocab_size);
  Sha256 hash;
  auto feed = [&](std::uint32_t s) {
    net.step(s, freqs.data());
    hash.update(freqs.data(), freqs.size() * sizeof(std::uint32_t));  // little-endian hosts only (checked in CMake)
  };
  feed(model.config.vocab_size);
  for (std::uint32_t s : model.selftest_symbols) feed(s);
  model.selftest_digest = hash.finish();
}

}  // namespace lmzip

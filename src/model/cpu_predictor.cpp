// The fast CPU predictor. Matrix products run as float32 GEMMs in libtorch:
// their operands are integers (|x| <= 127, |w| <= 127) and every partial sum
// stays below 2^24 when the inner size is at most 1040, so the float result is
// the exact integer whatever the summation order, BLAS or thread count. Larger
// inner sizes are split into blocks whose results are added as int32.
// Everything between the products is integer arithmetic in fused loops over
// the rows (one pass over memory per step, not one per tensor op).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "model/exp_tables.h"
#include "model/int_ops.h"
#include "model/network.h"

namespace lmzip {

using namespace intops;

namespace {

constexpr std::uint32_t kMaxExactInner = 1024;

// round_div(a, b) for a fixed divisor b > 0, without a 64-bit division per
// element: a double estimate, then an exact integer correction. Inputs stay
// below 2^50 in magnitude, where the estimate is off by at most one.
class RoundDivider {
 public:
  explicit RoundDivider(std::int64_t b) : b2_(2 * b), b_(b), inv_(1.0 / static_cast<double>(2 * b)) {}
  std::int64_t operator()(std::int64_t a) const {
    const std::int64_t num = 2 * a + b_;
    std::int64_t q = static_cast<std::int64_t>(std::floor(static_cast<double>(num) * inv_));
    std::int64_t rem = num - q * b2_;
    if (rem < 0) {
      --q;
    } else if (rem >= b2_) {
      ++q;
    }
    return q;
  }

 private:
  std::int64_t b2_, b_;
  double inv_;
};

// One stream's attention for the query heads that share kv head g. Rows
// 0..span-1 of the ring cache are read in storage order; row r holds the
// position at distance (t + window - r) % window from the current one.
// Bounds: |q.k| <= 127^2 * head_dim; p <= 4096, so sum p*v < 2^31 for spans <= 4096.
struct AttendArgs {
  const std::int8_t* query;  // [heads_in_group][head_dim]
  std::uint32_t heads_in_group;
  const std::int8_t* keys;    // row r at keys + r * stride
  const std::int8_t* values;  // same layout
  std::size_t stride;
  std::uint32_t head_dim, span, t, window;
  const std::int32_t* score_multiplier;  // per head of the group
  const std::int32_t* slope;
  unsigned score_shift;
  std::int64_t* z;    // scratch [span]
  std::int32_t* acc;  // scratch [head_dim]
  float* out;         // [heads_in_group][head_dim]
};

template <std::uint32_t kDim>
inline __attribute__((always_inline)) void attend_body(const AttendArgs& a) {
  const std::uint32_t dh = kDim ? kDim : a.head_dim;
  const std::uint32_t tw = a.t % a.window;  // the current position's row
  for (std::uint32_t h = 0; h < a.heads_in_group; ++h) {
    const std::int8_t* q = a.query + h * dh;
    std::int64_t zmax = INT64_MIN;
    for (std::uint32_t r = 0; r < a.span; ++r) {
      const std::int8_t* k = a.keys + r * a.stride;
      std::int32_t dot = 0;
      for (std::uint32_t e = 0; e < dh; ++e) dot += std::int16_t{q[e]} * std::int16_t{k[e]};
      const std::int64_t dist = tw >= r ? tw - r : tw + a.window - r;
      a.z[r] = round_shift(std::int64_t{dot} * a.score_multiplier[h], a.score_shift) - std::int64_t{a.slope[h]} * dist;
      zmax = std::max(zmax, a.z[r]);
    }
    std::int32_t psum = 0;
    for (std::uint32_t e = 0; e < dh; ++e) a.acc[e] = 0;
    for (std::uint32_t r = 0; r < a.span; ++r) {
      const std::int32_t p = kAttExp[std::min<std::int64_t>((zmax - a.z[r] + 8) >> 4, 159)];
      if (p == 0) continue;
      psum += p;
      const std::int8_t* v = a.values + r * a.stride;
      for (std::uint32_t e = 0; e < dh; ++e) a.acc[e] += p * v[e];
    }
    const RoundDivider div(psum);
    for (std::uint32_t e = 0; e < dh; ++e) a.out[h * dh + e] = static_cast<float>(div(a.acc[e]));
  }
}

inline __attribute__((always_inline)) void attend_by_dim(const AttendArgs& a) {
  switch (a.head_dim) {
    case 32: attend_body<32>(a); break;
    case 64: attend_body<64>(a); break;
    default: attend_body<0>(a); break;
  }
}

// The same loops compiled twice; integer results are identical either way.
__attribute__((target("avx2"))) void attend_avx2(const AttendArgs& a) { attend_by_dim(a); }
void attend_baseline(const AttendArgs& a) { attend_by_dim(a); }

void attend(const AttendArgs& a) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) attend_avx2(a); else attend_baseline(a);
}

// A linear layer as float32 weight blocks, transposed ([in_block, out]) for x @ W^T.
struct GemmLinear {
  const QuantLinear* q = nullptr;
  std::vector<at::Tensor> weight_blocks;  // each [block_in, out]
  std::vector<std::uint32_t> block_start;
  std::vector<at::Tensor> results;        // each [max_streams, out], float
  std::vector<const float*> result_ptr;

  void init(const QuantLinear& linear, std::uint32_t max_streams) {
    q = &linear;
    at::Tensor w = at::empty({linear.out, linear.in}, at::kFloat);
    float* p = w.data_ptr<float>();
    for (std::size_t i = 0; i < linear.weight.size(); ++i) p[i] = linear.weight[i];
    for (std::uint32_t start = 0; start < linear.in; start += kMaxExactInner) {
      const std::uint32_t len = std::min(kMaxExactInner, linear.in - start);
      weight_blocks.push_back(w.narrow(1, start, len).t().contiguous());
      block_start.push_back(start);
      results.push_back(at::empty({max_streams, linear.out}, at::kFloat));
      result_ptr.push_back(results.back().data_ptr<float>());
    }
  }

  // x: [n, in] float rows (integer values). Afterwards acc(row, o) is exact.
  void run(const at::Tensor& x, std::int64_t n) {
    for (std::size_t b = 0; b < weight_blocks.size(); ++b) {
      at::Tensor out = results[b].narrow(0, 0, n);
      at::Tensor in = weight_blocks.size() == 1 ? x.narrow(0, 0, n)
                                                : x.narrow(0, 0, n).narrow(1, block_start[b], weight_blocks[b].size(0));
      at::mm_out(out, in, weight_blocks[b]);
    }
  }

  std::int32_t acc(std::int64_t row, std::uint32_t o) const {
    const std::size_t idx = static_cast<std::size_t>(row) * q->out + o;
    if (result_ptr.size() == 1) return static_cast<std::int32_t>(result_ptr[0][idx]);
    std::int32_t sum = 0;
    for (const float* r : result_ptr) sum += static_cast<std::int32_t>(r[idx]);
    return sum;
  }
};

struct LayerState {
  GemmLinear qkv_q, qkv_k, qkv_v;  // three products sharing one input
  GemmLinear wo, w1, w2;
  std::vector<std::int8_t> keys, values;  // [slot][window][kv_heads * head_dim]
};

class CpuPredictor final : public Predictor {
 public:
  CpuPredictor(const ModelFile& model, std::uint32_t max_streams)
      : model_(model), cfg_(model.config), max_streams_(max_streams), position_(max_streams, 0) {
    const std::uint32_t kv = cfg_.kv_heads * cfg_.head_dim;
    layers_.resize(cfg_.layers);
    for (std::uint32_t l = 0; l < cfg_.layers; ++l) {
      const LayerWeights& w = model.layers[l];
      LayerState& s = layers_[l];
      s.qkv_q.init(w.wq, max_streams);
      s.qkv_k.init(w.wk, max_streams);
      s.qkv_v.init(w.wv, max_streams);
      s.wo.init(w.wo, max_streams);
      s.w1.init(w.w1, max_streams);
      s.w2.init(w.w2, max_streams);
      s.keys.assign(std::size_t{max_streams} * cfg_.window * kv, 0);
      s.values.assign(std::size_t{max_streams} * cfg_.window * kv, 0);
    }
    output_.init(model.output, max_streams);
    residual_.assign(std::size_t{max_streams} * cfg_.width, 0);
    x_ = at::zeros({max_streams, cfg_.width}, at::kFloat);
    attn_ = at::zeros({max_streams, cfg_.heads * cfg_.head_dim}, at::kFloat);
    hidden_ = at::zeros({max_streams, cfg_.ffn}, at::kFloat);
    query_.assign(std::size_t{cfg_.heads} * cfg_.head_dim, 0);
  }

  std::uint32_t vocab_size() const override { return cfg_.vocab_size; }
  std::uint32_t max_streams() const override { return max_streams_; }
  void reset(std::uint32_t slot) override { position_.at(slot) = 0; }

  void step(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count,
            std::uint32_t* freqs) override {
    if (count == 0) return;
    if (count > max_streams_) throw std::invalid_argument("cpu predictor: too many streams");
    for (std::size_t i = 0; i < count; ++i) {
      if (slots[i] >= max_streams_ || symbols[i] > cfg_.vocab_size)
        throw std::out_of_range("cpu predictor: slot or symbol out of range");
    }
    const auto n = static_cast<std::int64_t>(count);
    embed(symbols, n);
    for (std::uint32_t l = 0; l < cfg_.layers; ++l) {
      LayerState& s = layers_[l];
      const LayerWeights& w = model_.layers[l];
      norm(w.attn_norm, n);
      s.qkv_q.run(x_, n);
      s.qkv_k.run(x_, n);
      s.qkv_v.run(x_, n);
      attention(s, w.attention, slots, n);
      s.wo.run(attn_, n);
      residual_add(s.wo, n);
      norm(w.ffn_norm, n);
      s.w1.run(x_, n);
      squared_relu(s.w1, n);
      s.w2.run(hidden_, n);
      residual_add(s.w2, n);
    }
    norm(model_.final_norm, n);
    output_.run(x_, n);
    frequencies(n, freqs);
    for (std::size_t i = 0; i < count; ++i) ++position_[slots[i]];
  }

 private:
  void embed(const std::uint32_t* symbols, std::int64_t n) {
    const QuantLinear& e = model_.embedding;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int8_t* row = e.weight.data() + std::size_t{symbols[i]} * cfg_.width;
      const std::int64_t mult = e.multiplier[symbols[i]];
      std::int32_t* r = residual_.data() + i * cfg_.width;
      for (std::uint32_t c = 0; c < cfg_.width; ++c)
        r[c] = static_cast<std::int32_t>(round_shift(row[c] * mult, e.shift));
    }
  }

  // x_ = norm(residual_) as float rows.
  void norm(const std::vector<std::int32_t>& gain, std::int64_t n) {
    const std::uint32_t d = cfg_.width;
    float* x = x_.data_ptr<float>();
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t* r = residual_.data() + i * d;
      std::int64_t ss = 0;
      for (std::uint32_t c = 0; c < d; ++c) ss += std::int64_t{r[c]} * r[c];
      const std::int64_t rms = std::max<std::int64_t>(1, isqrt(ss / d));
      const RoundDivider div(rms * 256);
      for (std::uint32_t c = 0; c < d; ++c)
        x[i * d + c] = static_cast<float>(clamp(div(std::int64_t{r[c]} * gain[c]), -127, 127));
    }
  }

  void residual_add(const GemmLinear& g, std::int64_t n) {
    const QuantLinear& q = *g.q;
    for (std::int64_t i = 0; i < n; ++i) {
      std::int32_t* r = residual_.data() + i * cfg_.width;
      for (std::uint32_t o = 0; o < q.out; ++o)
        r[o] = static_cast<std::int32_t>(clamp(r[o] + round_shift(std::int64_t{g.acc(i, o)} * q.multiplier[o], q.shift),
                                               -kResidualLimit, kResidualLimit));
    }
  }

  void squared_relu(const GemmLinear& g, std::int64_t n) {
    const QuantLinear& q = *g.q;
    float* u = hidden_.data_ptr<float>();
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::uint32_t o = 0; o < q.out; ++o) {
        const std::int64_t a = std::max(g.acc(i, o), 0);
        const std::int64_t t = std::min<std::int64_t>(round_shift(a * q.multiplier[o], q.shift), 4095);
        u[i * q.out + o] = static_cast<float>(std::min<std::int64_t>((t * t + 128) >> 8, 127));
      }
    }
  }

  static std::int8_t requant8(const GemmLinear& g, std::int64_t row, std::uint32_t o) {
    return static_cast<std::int8_t>(
        clamp(round_shift(std::int64_t{g.acc(row, o)} * g.q->multiplier[o], g.q->shift), -127, 127));
  }

  void attention(LayerState& s, const AttentionParams& a, const std::uint32_t* slots, std::int64_t n) {
    const std::uint32_t dh = cfg_.head_dim, heads = cfg_.heads, window = cfg_.window;
    const std::uint32_t kv = cfg_.kv_heads * dh;
    const std::uint32_t group = heads / cfg_.kv_heads;
    float* out = attn_.data_ptr<float>();
    std::vector<std::int64_t> z(window);
    std::vector<std::int32_t> acc(dh);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint32_t slot = slots[i];
      const std::uint32_t t = position_[slot];
      std::int8_t* keys = s.keys.data() + std::size_t{slot} * window * kv;
      std::int8_t* values = s.values.data() + std::size_t{slot} * window * kv;
      for (std::uint32_t o = 0; o < kv; ++o) {
        keys[std::size_t{t % window} * kv + o] = requant8(s.qkv_k, i, o);
        values[std::size_t{t % window} * kv + o] = requant8(s.qkv_v, i, o);
      }
      for (std::uint32_t o = 0; o < heads * dh; ++o) query_[o] = requant8(s.qkv_q, i, o);
      const std::uint32_t span = std::min(t + 1, window);
      for (std::uint32_t g = 0; g < cfg_.kv_heads; ++g) {
        AttendArgs args{query_.data() + g * group * dh, group, keys + g * dh, values + g * dh, kv, dh, span, t,
                        window, a.score_multiplier.data() + g * group, a.slope.data() + g * group, a.score_shift,
                        z.data(), acc.data(), out + i * heads * dh + g * group * dh};
        attend(args);
      }
    }
  }

  void frequencies(std::int64_t n, std::uint32_t* freqs) {
    const QuantLinear& q = model_.output;
    const std::uint32_t V = cfg_.vocab_size;
    std::vector<std::int64_t> z(V);
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t zmax = INT64_MIN;
      for (std::uint32_t o = 0; o < V; ++o) {
        z[o] = round_shift(std::int64_t{output_.acc(i, o)} * q.multiplier[o], q.shift);
        zmax = std::max(zmax, z[o]);
      }
      std::uint32_t* f = freqs + i * V;
      for (std::uint32_t o = 0; o < V; ++o) f[o] = 1 + kOutExp[std::min<std::int64_t>(zmax - z[o], 383)];
    }
  }

  const ModelFile& model_;
  const ModelConfig cfg_;
  const std::uint32_t max_streams_;
  std::vector<std::uint32_t> position_;
  std::vector<LayerState> layers_;
  GemmLinear output_;
  std::vector<std::int32_t> residual_;  // [max_streams][width]
  at::Tensor x_, attn_, hidden_;        // GEMM inputs, integer-valued floats
  std::vector<std::int8_t> query_;
};

}  // namespace

bool set_cpu_gemm_threads(int threads) {
  // ATen's pool and, in a libtorch built with MKL (PyPI's), MKL's threads: on
  // a 16-core GPU machine 16 worker groups with 16 MKL threads each spun for
  // minutes on a 1 MB input (measured).
  at::set_num_threads(threads);
  // Looked up at run time: Debian's libblas.so.3 may be OpenBLAS or another BLAS.
  using SetThreads = void (*)(int);
  static const auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(threads);
  return true;
}

std::unique_ptr<Predictor> make_cpu_predictor(const ModelFile& model, std::uint32_t max_streams) {
  auto predictor = std::make_unique<CpuPredictor>(model, max_streams);
  // Self-test on this backend before anything is coded with it.
  if (selftest_digest(*predictor, model) != model.selftest_digest)
    throw std::runtime_error("model '" + model.name +
                             "' fails its self-test on the CPU backend: this build computes different predictions "
                             "than the one that made the model; files it wrote could not be decoded");
  return predictor;
}

}  // namespace lmzip

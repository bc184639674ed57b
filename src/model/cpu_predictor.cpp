// The fast CPU predictor. Matrix products are exact int8 products with int32
// sums (model/int8_gemm.h); everything between them is integer arithmetic in
// fused loops over the rows (one pass over memory per step, not one per op).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "lmzip/lmzip.h"
#include "model/exp_tables.h"
#include "model/int8_gemm.h"
#include "model/int_ops.h"
#include "model/network.h"

namespace lmzip {

using namespace intops;

namespace {

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

// The key/value cache of one layer and slot, laid out for the vector loops
// (int8, head dimensions padded to `pairs` * 2, rows to a multiple of 8):
//   keys   [kv_head][dim pair][row][2]: eight rows of one dim pair are 16 bytes;
//   values [kv_head][row pair][dim][2]: two rows of eight dims are 16 bytes.
// Row r holds the position at distance (t + window - r) % window from t.
struct CacheLayout {
  std::uint32_t head_dim, pairs, rows, window;
  std::size_t head_bytes() const { return std::size_t{pairs} * 2 * rows; }
  std::size_t key(std::uint32_t r, std::uint32_t e) const { return (std::size_t{e / 2} * rows + r) * 2 + e % 2; }
  std::size_t value(std::uint32_t r, std::uint32_t e) const {
    return (std::size_t{r / 2} * pairs * 2 + e) * 2 + r % 2;
  }
};

// One stream's attention for the query heads that share one kv head, over
// rows 0..span-1. Bounds: |q.k| <= 127^2 * head_dim; p <= 4096, so sum p*v <
// 2^31 for spans <= 4096.
struct AttendArgs {
  const std::int8_t* query;  // [heads_in_group][head_dim]
  std::uint32_t heads_in_group;
  const std::int8_t* keys;    // this kv head's keys and values (CacheLayout)
  const std::int8_t* values;
  CacheLayout layout;
  std::uint32_t span, t;
  const std::int32_t* score_multiplier;  // per head of the group
  const std::int32_t* slope;
  unsigned score_shift;
  std::int64_t* z;    // scratch [rows]
  std::int16_t* p;    // scratch [rows + 2]: p[span] is read as the odd last row's partner
  std::int32_t* acc;  // scratch [2 * pairs]
  std::int8_t* out;   // [heads_in_group][head_dim]
};

void attend_portable(const AttendArgs& a) {
  const CacheLayout& c = a.layout;
  const std::uint32_t dh = c.head_dim, tw = a.t % c.window;  // tw: the current position's row
  for (std::uint32_t h = 0; h < a.heads_in_group; ++h) {
    const std::int8_t* q = a.query + h * dh;
    std::int64_t zmax = INT64_MIN;
    for (std::uint32_t r = 0; r < a.span; ++r) {
      std::int32_t dot = 0;
      for (std::uint32_t e = 0; e < dh; ++e) dot += std::int32_t{q[e]} * a.keys[c.key(r, e)];
      const std::int64_t dist = tw >= r ? tw - r : tw + c.window - r;
      a.z[r] = round_shift(std::int64_t{dot} * a.score_multiplier[h], a.score_shift) - std::int64_t{a.slope[h]} * dist;
      zmax = std::max(zmax, a.z[r]);
    }
    std::int32_t psum = 0;
    for (std::uint32_t e = 0; e < dh; ++e) a.acc[e] = 0;
    for (std::uint32_t r = 0; r < a.span; ++r) {
      const std::int32_t p = kAttExp[std::min<std::int64_t>((zmax - a.z[r] + 8) >> 4, 159)];
      psum += p;
      for (std::uint32_t e = 0; e < dh; ++e) a.acc[e] += p * a.values[c.value(r, e)];
    }
    const RoundDivider div(psum);
    for (std::uint32_t e = 0; e < dh; ++e) a.out[h * dh + e] = static_cast<std::int8_t>(div(a.acc[e]));
  }
}

// AVX2 has no 64-bit arithmetic shift: with |x| < 2^62 - 2^55 (an int32 sum of
// int8 products times an int32 multiplier) and shift <= 56, x + 2^(s-1) + 2^62
// is in [0, 2^63), so a logical shift less 2^(62-s) gives round_shift(x, s).
constexpr unsigned kMaxVectorShift = 56;

struct VectorRoundShift {
  __m256i bias, unbias;
  __m128i count;
  __attribute__((target("avx2"))) explicit VectorRoundShift(unsigned shift)
      : bias(_mm256_set1_epi64x((std::int64_t{1} << 62) + (std::int64_t{1} << (shift - 1)))),
        unbias(_mm256_set1_epi64x(std::int64_t{1} << (62 - shift))),
        count(_mm_cvtsi32_si128(static_cast<int>(shift))) {}
  // round_shift(a * m) of four int64 lanes holding int32 values.
  __attribute__((target("avx2"), always_inline)) __m256i operator()(__m256i a, __m256i m) const {
    return _mm256_sub_epi64(_mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, m), bias), count), unbias);
  }
};

__attribute__((target("avx2"))) std::int64_t horizontal_max(__m256i v) {
  alignas(32) std::int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  return std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
}

// The same integers as attend_portable, for head dims of kDim (a multiple of 8).
template <std::uint32_t kDim>
__attribute__((target("avx2"))) void attend_avx2(const AttendArgs& a) {
  constexpr std::uint32_t kPairs = kDim / 2, kBlocks = kDim / 8;
  const CacheLayout& c = a.layout;
  const std::uint32_t tw = a.t % c.window, rows = c.rows;
  const VectorRoundShift score(a.score_shift);
  const __m256i current = _mm256_set1_epi64x(tw), window = _mm256_set1_epi64x(c.window);
  const __m256i span = _mm256_set1_epi64x(a.span), lowest = _mm256_set1_epi64x(INT64_MIN);
  for (std::uint32_t h = 0; h < a.heads_in_group; ++h) {
    const std::int8_t* q = a.query + h * kDim;
    std::int32_t query_pairs[kPairs];
    for (std::uint32_t p = 0; p < kPairs; ++p)
      query_pairs[p] = static_cast<std::int32_t>(static_cast<std::uint16_t>(std::int16_t{q[2 * p]}) |
                                                 std::uint32_t{static_cast<std::uint16_t>(std::int16_t{q[2 * p + 1]})} << 16);
    const __m256i multiplier = _mm256_set1_epi64x(a.score_multiplier[h]);
    const __m256i slope = _mm256_set1_epi64x(a.slope[h]);
    __m256i vmax = lowest;
    for (std::uint32_t r0 = 0; r0 < a.span; r0 += 8) {
      __m256i dots = _mm256_setzero_si256();
      for (std::uint32_t p = 0; p < kPairs; ++p) {
        const __m256i k = _mm256_cvtepi8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.keys + (std::size_t{p} * rows + r0) * 2)));
        dots = _mm256_add_epi32(dots, _mm256_madd_epi16(k, _mm256_set1_epi32(query_pairs[p])));
      }
      for (std::uint32_t half = 0; half < 2; ++half) {
        const __m128i d32 = half ? _mm256_extracti128_si256(dots, 1) : _mm256_castsi256_si128(dots);
        const std::int64_t first = r0 + 4 * half;
        const __m256i r = _mm256_setr_epi64x(first, first + 1, first + 2, first + 3);
        const __m256i dist = _mm256_add_epi64(_mm256_sub_epi64(current, r),
                                              _mm256_and_si256(_mm256_cmpgt_epi64(r, current), window));
        const __m256i z = _mm256_sub_epi64(score(_mm256_cvtepi32_epi64(d32), multiplier), _mm256_mul_epi32(slope, dist));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.z + first), z);
        const __m256i counted = _mm256_and_si256(_mm256_cmpgt_epi64(span, r), _mm256_cmpgt_epi64(z, vmax));
        vmax = _mm256_blendv_epi8(vmax, z, counted);
      }
    }
    const std::int64_t zmax = horizontal_max(vmax);
    std::int32_t psum = 0;
    for (std::uint32_t r = 0; r < a.span; ++r) {
      a.p[r] = static_cast<std::int16_t>(kAttExp[std::min<std::int64_t>((zmax - a.z[r] + 8) >> 4, 159)]);
      psum += a.p[r];
    }
    a.p[a.span] = 0;  // partner of the last row when span is odd (rows > span)
    __m256i acc[kBlocks];
    for (auto& v : acc) v = _mm256_setzero_si256();
    for (std::uint32_t r = 0; r < a.span; r += 2) {
      std::int32_t pair;
      std::memcpy(&pair, a.p + r, sizeof pair);
      const __m256i weights = _mm256_set1_epi32(pair);
      const std::int8_t* v = a.values + std::size_t{r} * kDim;  // row pair r / 2: 2 * kDim bytes
      for (std::uint32_t b = 0; b < kBlocks; ++b) {
        const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 16 * b)));
        acc[b] = _mm256_add_epi32(acc[b], _mm256_madd_epi16(x, weights));
      }
    }
    for (std::uint32_t b = 0; b < kBlocks; ++b)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.acc + 8 * b), acc[b]);
    const RoundDivider div(psum);
    for (std::uint32_t e = 0; e < kDim; ++e) a.out[h * kDim + e] = static_cast<std::int8_t>(div(a.acc[e]));
  }
}

void attend(const AttendArgs& a) {
  if (avx2_kernels() && a.score_shift <= kMaxVectorShift) {
    if (a.layout.head_dim == 16) return attend_avx2<16>(a);
    if (a.layout.head_dim == 32) return attend_avx2<32>(a);
    if (a.layout.head_dim == 64) return attend_avx2<64>(a);
  }
  attend_portable(a);
}

// One row's frequency table: z[o] = round_shift(acc[o] * mult[o], shift)
// (+ adj[o] with output adaptation), f[o] = 1 + OUT_EXP[min(max(z) - z[o],
// 383)]. z is scratch [V].
void row_frequencies_portable(const std::int32_t* acc, const std::int32_t* mult, unsigned shift, std::uint32_t V,
                              const std::int32_t* adj, std::int64_t* z, std::uint32_t* f) {
  std::int64_t zmax = INT64_MIN;
  for (std::uint32_t o = 0; o < V; ++o) {
    z[o] = round_shift(std::int64_t{acc[o]} * mult[o], shift) + (adj ? adj[o] : 0);
    zmax = std::max(zmax, z[o]);
  }
  for (std::uint32_t o = 0; o < V; ++o) f[o] = 1 + kOutExp[std::min<std::int64_t>(zmax - z[o], 383)];
}

__attribute__((target("avx2"))) void row_frequencies_avx2(const std::int32_t* acc, const std::int32_t* mult,
                                                          unsigned shift, std::uint32_t V, const std::int32_t* adj,
                                                          std::int64_t* z, std::uint32_t* f) {
  const VectorRoundShift logit(shift);
  __m256i vmax = _mm256_set1_epi64x(INT64_MIN);
  std::uint32_t o = 0;
  for (; o + 4 <= V; o += 4) {
    const __m256i a = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + o)));
    const __m256i m = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mult + o)));
    __m256i v = logit(a, m);
    if (adj) v = _mm256_add_epi64(v, _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(adj + o))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(z + o), v);
    vmax = _mm256_blendv_epi8(vmax, v, _mm256_cmpgt_epi64(v, vmax));
  }
  std::int64_t zmax = horizontal_max(vmax);
  for (; o < V; ++o) {
    z[o] = round_shift(std::int64_t{acc[o]} * mult[o], shift) + (adj ? adj[o] : 0);
    zmax = std::max(zmax, z[o]);
  }
  const __m256i top = _mm256_set1_epi64x(zmax), last = _mm256_set1_epi64x(383);
  const __m256i low_halves = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  alignas(16) std::int32_t index[4];
  for (o = 0; o + 4 <= V; o += 4) {
    __m256i d = _mm256_sub_epi64(top, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + o)));
    d = _mm256_blendv_epi8(d, last, _mm256_cmpgt_epi64(d, last));
    _mm_store_si128(reinterpret_cast<__m128i*>(index),
                    _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(d, low_halves)));
    for (int j = 0; j < 4; ++j) f[o + j] = 1 + kOutExp[index[j]];
  }
  for (; o < V; ++o) f[o] = 1 + kOutExp[std::min<std::int64_t>(zmax - z[o], 383)];
}

// out[i][o] = clamp(round_shift(acc[i][o] * mult[o], shift), lo, hi) for n
// rows of `width` sums: the requantization after every product.
void scale_rows_portable(const std::int32_t* acc, const std::int32_t* mult, unsigned shift, std::size_t n,
                         std::uint32_t width, std::int32_t lo, std::int32_t hi, std::int32_t* out) {
  for (std::size_t i = 0; i < n * width; i += width)
    for (std::uint32_t o = 0; o < width; ++o)
      out[i + o] = static_cast<std::int32_t>(clamp(round_shift(std::int64_t{acc[i + o]} * mult[o], shift), lo, hi));
}

__attribute__((target("avx2"))) void scale_rows_avx2(const std::int32_t* acc, const std::int32_t* mult,
                                                     unsigned shift, std::size_t n, std::uint32_t width,
                                                     std::int32_t lo, std::int32_t hi, std::int32_t* out) {
  const VectorRoundShift scale(shift);
  const __m256i low = _mm256_set1_epi64x(lo), high = _mm256_set1_epi64x(hi);
  const __m256i low_halves = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  auto four = [&](__m128i a, __m128i m) __attribute__((target("avx2"))) {
    __m256i v = scale(_mm256_cvtepi32_epi64(a), _mm256_cvtepi32_epi64(m));
    v = _mm256_blendv_epi8(v, low, _mm256_cmpgt_epi64(low, v));
    v = _mm256_blendv_epi8(v, high, _mm256_cmpgt_epi64(v, high));
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, low_halves));
  };
  for (std::size_t i = 0; i < n * width; i += width) {
    std::uint32_t o = 0;
    for (; o + 8 <= width; o += 8) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i + o));
      const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mult + o));
      const __m128i first = four(_mm256_castsi256_si128(a), _mm256_castsi256_si128(m));
      const __m128i second = four(_mm256_extracti128_si256(a, 1), _mm256_extracti128_si256(m, 1));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + o),
                          _mm256_inserti128_si256(_mm256_castsi128_si256(first), second, 1));
    }
    for (; o < width; ++o)
      out[i + o] = static_cast<std::int32_t>(clamp(round_shift(std::int64_t{acc[i + o]} * mult[o], shift), lo, hi));
  }
}

// x[c] = clamp(round_div(r[c] * gain[c], divisor), -127, 127) for c < d, in
// doubles four at a time. Exact while |r * gain| < 2^51 and divisor <= 2^40
// (the caller checks): every product, numerator and remainder below is an
// integer under 2^53. Only the clamped quotient is needed, so the estimate is
// first held to [-129, 129], where one correction step makes it exact.
__attribute__((target("avx2"))) void norm_row_avx2(const std::int32_t* r, const std::int32_t* gain, std::uint32_t d,
                                                   std::int64_t divisor, std::int8_t* x) {
  const double b = static_cast<double>(divisor);
  const __m256d half = _mm256_set1_pd(b), b2 = _mm256_set1_pd(2 * b), inv = _mm256_set1_pd(1.0 / (2 * b));
  const __m256d lo = _mm256_set1_pd(-129), hi = _mm256_set1_pd(129), one = _mm256_set1_pd(1), zero = _mm256_setzero_pd();
  const __m256d out_lo = _mm256_set1_pd(-127), out_hi = _mm256_set1_pd(127);
  auto four = [&](const std::int32_t* rc, const std::int32_t* gc) __attribute__((target("avx2"))) {
    const __m256d a = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rc))),
                                    _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gc))));
    const __m256d num = _mm256_add_pd(_mm256_add_pd(a, a), half);
    __m256d q = _mm256_floor_pd(_mm256_mul_pd(num, inv));
    q = _mm256_min_pd(_mm256_max_pd(q, lo), hi);
    const __m256d rem = _mm256_sub_pd(num, _mm256_mul_pd(q, b2));
    q = _mm256_sub_pd(q, _mm256_and_pd(_mm256_cmp_pd(rem, zero, _CMP_LT_OQ), one));
    q = _mm256_add_pd(q, _mm256_and_pd(_mm256_cmp_pd(rem, b2, _CMP_GE_OQ), one));
    return _mm256_cvtpd_epi32(_mm256_min_pd(_mm256_max_pd(q, out_lo), out_hi));
  };
  std::uint32_t c = 0;
  for (; c + 8 <= d; c += 8) {
    const __m128i words = _mm_packs_epi32(four(r + c, gain + c), four(r + c + 4, gain + c + 4));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(x + c), _mm_packs_epi16(words, words));
  }
  const RoundDivider div(divisor);
  for (; c < d; ++c) x[c] = static_cast<std::int8_t>(clamp(div(std::int64_t{r[c]} * gain[c]), -127, 127));
}

// A linear layer: its exact int8 product, the sums of the last run and
// their requantized values.
struct GemmLinear {
  const QuantLinear* q = nullptr;
  std::unique_ptr<Int8Gemm> gemm;
  std::vector<std::int32_t> sums;    // [max_streams][out]
  std::vector<std::int32_t> scaled;  // [max_streams][out], after scale()

  void init(const QuantLinear& linear, std::uint32_t max_streams) {
    q = &linear;
    gemm = std::make_unique<Int8Gemm>(linear.weight.data(), linear.out, linear.in);
    sums.assign(std::size_t{max_streams} * linear.out, 0);
    scaled.assign(sums.size(), 0);
  }

  // x: [n][in] rows.
  void run(const std::vector<std::int8_t>& x, std::int64_t n) { gemm->run(x.data(), static_cast<std::size_t>(n), sums.data()); }

  // scaled = clamp(round_shift(sums * multiplier, shift), lo, hi) for n rows.
  void scale(std::int64_t n, std::int32_t lo, std::int32_t hi) {
    const auto rows = static_cast<std::size_t>(n);
    if (avx2_kernels() && q->shift <= kMaxVectorShift)
      scale_rows_avx2(sums.data(), q->multiplier.data(), q->shift, rows, q->out, lo, hi, scaled.data());
    else
      scale_rows_portable(sums.data(), q->multiplier.data(), q->shift, rows, q->out, lo, hi, scaled.data());
  }

  std::int32_t value(std::int64_t row, std::uint32_t o) const { return scaled[static_cast<std::size_t>(row) * q->out + o]; }
};

struct LayerState {
  GemmLinear qkv_q, qkv_k, qkv_v;  // three products sharing one input
  GemmLinear wo, w1, w2;
  std::vector<std::int8_t> keys, values;  // [slot][kv_head] of CacheLayout::head_bytes()
};

class CpuPredictor final : public Predictor {
 public:
  CpuPredictor(const ModelFile& model, std::uint32_t max_streams)
      : model_(model), cfg_(model.config), max_streams_(max_streams), position_(max_streams, 0) {
    cache_ = CacheLayout{cfg_.head_dim, (cfg_.head_dim + 1) / 2, (cfg_.window + 7) / 8 * 8, cfg_.window};
    const std::size_t cache_bytes = std::size_t{max_streams} * cfg_.kv_heads * cache_.head_bytes();
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
      s.keys.assign(cache_bytes, 0);
      s.values.assign(cache_bytes, 0);
    }
    output_.init(model.output, max_streams);
    residual_.assign(std::size_t{max_streams} * cfg_.width, 0);
    x_.assign(std::size_t{max_streams} * cfg_.width, 0);
    attn_.assign(std::size_t{max_streams} * cfg_.heads * cfg_.head_dim, 0);
    hidden_.assign(std::size_t{max_streams} * cfg_.ffn, 0);
    query_.assign(std::size_t{cfg_.heads} * cfg_.head_dim, 0);
    scores_.assign(cache_.rows, 0);
    weights_.assign(cache_.rows + 2, 0);
    sums_.assign(std::size_t{cache_.pairs} * 2, 0);
  }

  std::uint32_t vocab_size() const override { return cfg_.vocab_size; }
  std::uint32_t max_streams() const override { return max_streams_; }
  void reset(std::uint32_t slot) override { position_.at(slot) = 0; }

  // The position, then each layer's keys and values of the slot.
  bool saves_slots() const override { return true; }
  std::vector<std::uint8_t> save_slot(std::uint32_t slot) const override {
    const std::size_t block = cfg_.kv_heads * cache_.head_bytes(), at = std::size_t{slot} * block;
    std::vector<std::uint8_t> out(sizeof(std::uint32_t));
    std::memcpy(out.data(), &position_.at(slot), sizeof(std::uint32_t));
    for (const LayerState& s : layers_) {
      out.insert(out.end(), s.keys.begin() + at, s.keys.begin() + at + block);
      out.insert(out.end(), s.values.begin() + at, s.values.begin() + at + block);
    }
    return out;
  }
  void load_slot(std::uint32_t slot, const std::vector<std::uint8_t>& state) override {
    const std::size_t block = cfg_.kv_heads * cache_.head_bytes(), at = std::size_t{slot} * block;
    if (state.size() != sizeof(std::uint32_t) + 2 * block * layers_.size())
      throw std::invalid_argument("cpu predictor: a slot's state of another model");
    std::memcpy(&position_.at(slot), state.data(), sizeof(std::uint32_t));
    const std::uint8_t* from = state.data() + sizeof(std::uint32_t);
    for (LayerState& s : layers_) {
      std::memcpy(s.keys.data() + at, from, block);
      std::memcpy(s.values.data() + at, from + block, block);
      from += 2 * block;
    }
  }

  void attach(OutputAdjustment* adaptation, std::uint32_t stride, std::uint32_t offset) override {
    if (adaptation != nullptr) adaptation->set_width(cfg_.width);
    adaptation_ = adaptation;
    slot_stride_ = stride;
    slot_offset_ = offset;
  }

  void learn(const std::uint32_t* symbols) override {
    if (adaptation_ == nullptr) throw std::logic_error("cpu predictor: learn() without output adaptation");
    const std::uint32_t d = cfg_.width;
    for (std::size_t i = 0; i < advanced_rows(); ++i)
      adaptation_->record(adaptation_slot(step_slots_[i]), host_table(i), host_total(i), symbols[i],
                          x_.data() + i * d);
  }

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
    frequencies(slots, n, freqs);
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

  // x_ = norm(residual_) as int8 rows.
  void norm(const std::vector<std::int32_t>& gain, std::int64_t n) {
    const std::uint32_t d = cfg_.width;
    const std::int64_t max_gain = *std::max_element(gain.begin(), gain.end());
    std::int8_t* x = x_.data();
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t* r = residual_.data() + i * d;
      std::int64_t ss = 0, max_r = 0;
      for (std::uint32_t c = 0; c < d; ++c) {
        ss += std::int64_t{r[c]} * r[c];
        max_r = std::max<std::int64_t>(max_r, std::abs(std::int64_t{r[c]}));
      }
      const std::int64_t rms = std::max<std::int64_t>(1, isqrt(ss / d));
      if (avx2_kernels() && max_r * max_gain < (std::int64_t{1} << 51) && rms <= (std::int64_t{1} << 32)) {
        norm_row_avx2(r, gain.data(), d, rms * 256, x + i * d);
        continue;
      }
      const RoundDivider div(rms * 256);
      for (std::uint32_t c = 0; c < d; ++c)
        x[i * d + c] = static_cast<std::int8_t>(clamp(div(std::int64_t{r[c]} * gain[c]), -127, 127));
    }
  }

  // Beyond +-2^30 a term decides the clamp at +-2^24 by its sign alone.
  void residual_add(GemmLinear& g, std::int64_t n) {
    g.scale(n, -(1 << 30), 1 << 30);
    const std::uint32_t d = g.q->out;
    for (std::int64_t i = 0; i < n; ++i) {
      std::int32_t* r = residual_.data() + i * cfg_.width;
      const std::int32_t* t = g.scaled.data() + i * d;
      for (std::uint32_t o = 0; o < d; ++o)
        r[o] = static_cast<std::int32_t>(clamp(std::int64_t{r[o]} + t[o], -kResidualLimit, kResidualLimit));
    }
  }

  // u = min((t^2 + 128) >> 8, 127), t = min(round_shift(max(acc, 0) * m), 4095):
  // with m >= 0, clamping the scaled sum to [0, 4095] is the same.
  void squared_relu(GemmLinear& g, std::int64_t n) {
    g.scale(n, 0, 4095);
    const std::size_t size = static_cast<std::size_t>(n) * g.q->out;
    std::int8_t* u = hidden_.data();
    for (std::size_t k = 0; k < size; ++k) {
      const std::int32_t t = g.scaled[k];
      u[k] = static_cast<std::int8_t>(std::min((t * t + 128) >> 8, 127));
    }
  }

  void attention(LayerState& s, const AttentionParams& a, const std::uint32_t* slots, std::int64_t n) {
    const std::uint32_t dh = cfg_.head_dim, heads = cfg_.heads, window = cfg_.window;
    const std::uint32_t group = heads / cfg_.kv_heads;
    const std::size_t head_bytes = cache_.head_bytes();
    std::int8_t* out = attn_.data();
    for (GemmLinear* g : {&s.qkv_q, &s.qkv_k, &s.qkv_v}) g->scale(n, -127, 127);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint32_t slot = slots[i];
      const std::uint32_t t = position_[slot];
      const std::uint32_t row = t % window;
      for (std::uint32_t g = 0; g < cfg_.kv_heads; ++g) {
        const std::size_t base = (std::size_t{slot} * cfg_.kv_heads + g) * head_bytes;
        for (std::uint32_t e = 0; e < dh; ++e) {
          s.keys[base + cache_.key(row, e)] = static_cast<std::int8_t>(s.qkv_k.value(i, g * dh + e));
          s.values[base + cache_.value(row, e)] = static_cast<std::int8_t>(s.qkv_v.value(i, g * dh + e));
        }
      }
      for (std::uint32_t o = 0; o < heads * dh; ++o) query_[o] = static_cast<std::int8_t>(s.qkv_q.value(i, o));
      const std::uint32_t span = std::min(t + 1, window);
      for (std::uint32_t g = 0; g < cfg_.kv_heads; ++g) {
        const std::size_t base = (std::size_t{slot} * cfg_.kv_heads + g) * head_bytes;
        AttendArgs args{query_.data() + g * group * dh, group, s.keys.data() + base, s.values.data() + base,
                        cache_, span, t, a.score_multiplier.data() + g * group, a.slope.data() + g * group,
                        a.score_shift, scores_.data(), weights_.data(), sums_.data(),
                        out + i * heads * dh + g * group * dh};
        attend(args);
      }
    }
  }

  std::uint32_t adaptation_slot(std::uint32_t slot) const { return slot * slot_stride_ + slot_offset_; }

  // The output adaptation's terms of the rows whose slots have a frame:
  // adjustments_[i] for row i, computed a frame at a time.
  void adapt(const std::uint32_t* slots, std::int64_t n) {
    const std::uint32_t V = cfg_.vocab_size, d = cfg_.width;
    step_slots_.assign(slots, slots + n);
    row_group_.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) row_group_[i] = adaptation_->group(adaptation_slot(slots[i]));
    adjustments_.resize(static_cast<std::size_t>(n) * V);
    std::vector<std::int32_t> groups(row_group_);
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    if (groups.size() == 1 && groups[0] >= 0) {  // one frame (always on the CPU's batches): no gathering
      adaptation_->adjustments(static_cast<std::uint32_t>(groups[0]), x_.data(), static_cast<std::size_t>(n),
                               adjustments_.data());
      return;
    }
    for (const std::int32_t g : groups) {
      if (g < 0) continue;
      std::vector<std::size_t> rows;
      for (std::size_t i = 0; i < row_group_.size(); ++i)
        if (row_group_[i] == g) rows.push_back(i);
      group_x_.resize(rows.size() * d);
      for (std::size_t k = 0; k < rows.size(); ++k) std::memcpy(&group_x_[k * d], &x_[rows[k] * d], d);
      group_adjustments_.resize(rows.size() * V);
      adaptation_->adjustments(static_cast<std::uint32_t>(g), group_x_.data(), rows.size(), group_adjustments_.data());
      for (std::size_t k = 0; k < rows.size(); ++k)
        std::memcpy(&adjustments_[rows[k] * V], &group_adjustments_[k * V], V * sizeof(std::int32_t));
    }
  }

  void frequencies(const std::uint32_t* slots, std::int64_t n, std::uint32_t* freqs) {
    const QuantLinear& q = model_.output;
    const std::uint32_t V = cfg_.vocab_size;
    const bool vector = avx2_kernels() && q.shift <= kMaxVectorShift;
    if (adaptation_ != nullptr) adapt(slots, n);
    logits_.resize(V);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t* acc = output_.sums.data() + static_cast<std::size_t>(i) * V;
      const std::int32_t* adj =
          adaptation_ != nullptr && row_group_[i] >= 0 ? adjustments_.data() + static_cast<std::size_t>(i) * V : nullptr;
      std::uint32_t* f = freqs + i * V;
      if (vector)
        row_frequencies_avx2(acc, q.multiplier.data(), q.shift, V, adj, logits_.data(), f);
      else
        row_frequencies_portable(acc, q.multiplier.data(), q.shift, V, adj, logits_.data(), f);
    }
  }

  const ModelFile& model_;
  const ModelConfig cfg_;
  const std::uint32_t max_streams_;
  std::vector<std::uint32_t> position_;
  std::vector<LayerState> layers_;
  GemmLinear output_;
  std::vector<std::int32_t> residual_;  // [max_streams][width]
  std::vector<std::int8_t> x_, attn_, hidden_;  // GEMM inputs
  CacheLayout cache_;
  std::vector<std::int8_t> query_;
  std::vector<std::int64_t> scores_;   // scratch [rows]
  std::vector<std::int16_t> weights_;  // scratch [rows + 2]
  std::vector<std::int32_t> sums_;     // scratch [2 * pairs]
  std::vector<std::int64_t> logits_;  // scratch [V]
  OutputAdjustment* adaptation_ = nullptr;
  std::uint32_t slot_stride_ = 1, slot_offset_ = 0;
  std::vector<std::uint32_t> step_slots_;   // the last step's slots, for learn()
  std::vector<std::int32_t> row_group_;     // the last step's rows' frames (-1: none)
  std::vector<std::int32_t> adjustments_;   // [row][V]
  std::vector<std::int8_t> group_x_;        // scratch: one frame's rows of x_
  std::vector<std::int32_t> group_adjustments_;
};

}  // namespace

std::size_t cpu_predictor_bytes(const ModelFile& model, std::uint32_t max_streams) {
  const ModelConfig& c = model.config;
  const std::size_t streams = max_streams;
  std::size_t bytes = 0;
  // Int8Gemm keeps the weights three times (as given, in pairs, in quads) and
  // per row its input in pairs and quads; GemmLinear its sums and their scaled values.
  auto linear = [&](const QuantLinear& q) {
    const std::size_t padded_out = (std::size_t{q.out} + 15) / 16 * 16;
    bytes += std::size_t{q.out} * q.in + padded_out * ((q.in + 1) / 2 * 2) + padded_out * ((q.in + 3) / 4 * 4);
    bytes += streams * (std::size_t{(q.in + 1) / 2} + (q.in + 3) / 4) * 4 + streams * q.out * 8;
  };
  for (const LayerWeights& w : model.layers)
    for (const QuantLinear* q : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w1, &w.w2}) linear(*q);
  linear(model.output);
  const std::size_t window_rows = (std::size_t{c.window} + 7) / 8 * 8;
  const std::size_t head_bytes = std::size_t{(c.head_dim + 1) / 2} * 2 * window_rows;
  bytes += std::size_t{c.layers} * 2 * streams * c.kv_heads * head_bytes;  // keys and values
  // Per row: residual (int32), x, attention, hidden (int8); the tables the
  // predictor hands out, the output adaptation's terms and the blocks' sums.
  bytes += streams * (std::size_t{c.width} * 5 + std::size_t{c.heads} * c.head_dim + c.ffn);
  bytes += streams * std::size_t{c.vocab_size} * 8 + streams * (c.vocab_size / 64 + 2) * 8;
  return bytes;
}

std::unique_ptr<Predictor> make_cpu_predictor(const ModelFile& model, std::uint32_t max_streams) {
  if (!kernel_request_problem().empty()) throw Error(Error::Kind::Usage, kernel_request_problem());
  auto predictor = std::make_unique<CpuPredictor>(model, max_streams);
  // Self-test on this backend before anything is coded with it.
  if (selftest_digest(*predictor, model) != model.selftest_digest)
    throw std::runtime_error("model '" + model.name +
                             "' fails its self-test on the CPU backend: this build computes different predictions "
                             "than the one that made the model; files it wrote could not be decoded");
  return predictor;
}

}  // namespace lmzip

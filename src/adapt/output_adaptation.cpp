#include "adapt/output_adaptation.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "model/int8_gemm.h"
#include "model/int_ops.h"

namespace lmzip {

using intops::round_shift;

namespace {

constexpr std::uint64_t kMinGradient = OutputAdaptation::kMinGradient;

// Appends to `out` the outputs o in [first, n) with f[o] >= threshold (< 2^31, as every f).
void outputs_at_least(const std::uint32_t* f, std::uint32_t first, std::uint32_t n, std::uint32_t threshold,
                      std::vector<std::uint32_t>& out) {
  for (std::uint32_t o = first; o < n; ++o)
    if (f[o] >= threshold) out.push_back(o);
}

__attribute__((target("avx2"))) void outputs_at_least_avx2(const std::uint32_t* f, std::uint32_t first,
                                                           std::uint32_t n, std::uint32_t threshold,
                                                           std::vector<std::uint32_t>& out) {
  const __m256i below = _mm256_set1_epi32(static_cast<std::int32_t>(threshold) - 1);
  std::uint32_t o = first;
  for (; o + 8 <= n; o += 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f + o));
    auto mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(v, below))));
    for (; mask != 0; mask &= mask - 1) out.push_back(o + static_cast<std::uint32_t>(__builtin_ctz(mask)));
  }
  outputs_at_least(f, o, n, threshold, out);
}

// out[k] = the sum of acc[k]'s eight lanes, for k = 0..7: a tree of vphaddd.
__attribute__((target("avx2"), always_inline)) inline void store_lane_sums(const __m256i* acc, std::int32_t* out) {
  const __m256i s01 = _mm256_hadd_epi32(acc[0], acc[1]), s23 = _mm256_hadd_epi32(acc[2], acc[3]);
  const __m256i s45 = _mm256_hadd_epi32(acc[4], acc[5]), s67 = _mm256_hadd_epi32(acc[6], acc[7]);
  const __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
  // s0123: [a0 a1 a2 a3 | a0 a1 a2 a3], the 128-bit halves' partial sums; likewise s4567.
  const __m256i low = _mm256_permute2x128_si256(s0123, s4567, 0x20);
  const __m256i high = _mm256_permute2x128_si256(s0123, s4567, 0x31);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_add_epi32(low, high));
}

// sums[i][o] = d[o] . x[i] for 8 rows o of d (stride int16 each, a multiple
// of 16) and n rows of x (int16, the same stride): vpmaddwd, exact in int32
// (set_width's bound), the 8 rows' lanes summed by a tree of vphaddd.
__attribute__((target("avx2"))) void eight_sums_avx2(const std::int16_t* d, std::uint32_t stride,
                                                     const std::int16_t* x, std::size_t n, std::int32_t* sums) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int16_t* xi = x + i * stride;
    __m256i acc[8];
    for (auto& a : acc) a = _mm256_setzero_si256();
    for (std::uint32_t j = 0; j < stride; j += 16) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xi + j));
      for (int k = 0; k < 8; ++k)
        acc[k] = _mm256_add_epi32(
            acc[k], _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + k * stride + j)), xv));
    }
    store_lane_sums(acc, sums + i * 8);
  }
}

// eight_sums_avx2 with AVX-512 VNNI (vpdpwssd), for strides that are a
// multiple of 32.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void eight_sums_vnni(const std::int16_t* d,
                                                                               std::uint32_t stride,
                                                                               const std::int16_t* x, std::size_t n,
                                                                               std::int32_t* sums) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int16_t* xi = x + i * stride;
    __m512i acc[8];
    for (auto& a : acc) a = _mm512_setzero_si512();
    for (std::uint32_t j = 0; j < stride; j += 32) {
      const __m512i xv = _mm512_loadu_si512(xi + j);
      for (int k = 0; k < 8; ++k) acc[k] = _mm512_dpwssd_epi32(acc[k], _mm512_loadu_si512(d + k * stride + j), xv);
    }
    __m256i half[8];
    for (int k = 0; k < 8; ++k)
      half[k] = _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xFF, acc[k], 0), _mm512_maskz_extracti64x4_epi64(0xFF, acc[k], 1));
    store_lane_sums(half, sums + i * 8);
  }
}

// step[j] += round_shift(g x[j], 12) and d[j] = clamp(d[j] + step[j]) in
// int32 (bounds in apply()). The same loops twice: the build's baseline has no
// 32-bit vector multiply, AVX2 does.
#define LMZIP_ADD_TERM                                                                       \
  for (std::uint32_t j = 0; j < width; ++j) step[j] += (g * x[j] + kHalfStep) >> kStepShift
#define LMZIP_ADD_STEP                         \
  for (std::uint32_t j = 0; j < width; ++j) \
  d[j] = static_cast<std::int16_t>(std::min(std::max(d[j] + step[j], -kLimit), kLimit))

constexpr unsigned kStepShift = OutputAdaptation::kStepShift;
constexpr std::int32_t kHalfStep = std::int32_t{1} << (kStepShift - 1);
constexpr std::int32_t kLimit = OutputAdaptation::kLimit;

void add_term(std::int32_t* step, const std::int8_t* x, std::int32_t g, std::uint32_t width) { LMZIP_ADD_TERM; }
__attribute__((target("avx2"))) void add_term_avx2(std::int32_t* step, const std::int8_t* x, std::int32_t g,
                                                   std::uint32_t width) {
  LMZIP_ADD_TERM;
}
void add_step(std::int16_t* d, const std::int32_t* step, std::uint32_t width) { LMZIP_ADD_STEP; }
__attribute__((target("avx2"))) void add_step_avx2(std::int16_t* d, const std::int32_t* step, std::uint32_t width) {
  LMZIP_ADD_STEP;
}
#undef LMZIP_ADD_TERM
#undef LMZIP_ADD_STEP

}  // namespace

OutputAdaptation::OutputAdaptation(std::uint32_t vocab_size, std::uint32_t groups, std::uint32_t streams)
    : vocab_(vocab_size), groups_(groups) {
  slot_group_.assign(streams, -1);
  recorded_.resize(streams);
}

std::size_t OutputAdaptation::matrix_bytes(std::uint32_t vocab_size, std::uint32_t width) {
  return std::size_t{(vocab_size + 7) / 8 * 8} * ((width + 31) / 32 * 32) * sizeof(std::int16_t);
}

void OutputAdaptation::set_width(std::uint32_t width) {
  if (width_ == width) return;
  if (width_ != 0) throw std::invalid_argument("output adaptation: networks of different widths");
  if (width == 0 || width > kMaxWidth) throw std::invalid_argument("output adaptation: width must be 1..512");
  width_ = width;
  stride_ = (width + 31) / 32 * 32;
  matrix_size_ = matrix_bytes(vocab_, width) / sizeof(std::int16_t);
  matrices_ = ZeroedArray<std::int16_t>(matrix_size_ * groups_);
  written_ = ZeroedArray<std::uint8_t>(std::size_t{groups_} * padded_vocab());
}

void OutputAdaptation::assign(std::uint32_t slot, std::int32_t group) {
  if (group >= static_cast<std::int32_t>(groups_)) throw std::out_of_range("output adaptation: no such frame");
  slot_group_.at(slot) = group;
  recorded_[slot].live = false;
}

void OutputAdaptation::adjustments(std::uint32_t group, const std::int8_t* x, std::size_t n, std::int32_t* out) const {
  const std::int16_t* d = matrix(group);
  const std::uint8_t* written = written_.data() + std::size_t{group} * padded_vocab();
  // Blocks of 8 rows none of which was written add zero.
  auto zero_block = [&](std::uint32_t o) {
    std::uint64_t flags;
    std::memcpy(&flags, written + o, sizeof flags);
    return flags == 0;
  };
  if (avx2_kernels()) {
    std::vector<std::int16_t> wide(n * stride_, 0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::uint32_t j = 0; j < width_; ++j) wide[i * stride_ + j] = x[i * width_ + j];
    std::vector<std::int32_t> sums(n * 8);
    for (std::uint32_t o = 0; o < vocab_; o += 8) {
      const std::uint32_t outputs = std::min<std::uint32_t>(8, vocab_ - o);
      if (zero_block(o)) {
        for (std::size_t i = 0; i < n; ++i) std::fill_n(out + i * vocab_ + o, outputs, 0);
        continue;
      }
      (vnni_kernels() ? eight_sums_vnni : eight_sums_avx2)(d + std::size_t{o} * stride_, stride_, wide.data(), n,
                                                           sums.data());
      for (std::size_t i = 0; i < n; ++i)
        for (std::uint32_t k = 0; k < outputs; ++k)
          out[i * vocab_ + o + k] = static_cast<std::int32_t>(round_shift(sums[i * 8 + k], kLogitShift));
    }
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::uint32_t o = 0; o < vocab_; ++o) {
      if (!written[o]) {
        out[i * vocab_ + o] = 0;
        continue;
      }
      const std::int16_t* row = d + std::size_t{o} * stride_;
      std::int64_t sum = 0;
      for (std::uint32_t j = 0; j < width_; ++j) sum += std::int64_t{row[j]} * x[i * width_ + j];
      out[i * vocab_ + o] = static_cast<std::int32_t>(round_shift(sum, kLogitShift));
    }
}

void OutputAdaptation::record(std::uint32_t slot, const std::uint32_t* f, std::uint64_t total, std::uint32_t symbol,
                              const std::int8_t* x) {
  Recorded& r = recorded_.at(slot);
  r.entries.clear();
  r.live = slot_group_[slot] >= 0;
  if (!r.live) return;
  // |g| >= 64 for o != symbol: floor(f 2^16 / T) >= 64, f >= ceil(T / 2^10).
  const std::uint64_t threshold = (total + 1023) >> 10;
  std::vector<std::uint32_t>& candidates = r.candidates;
  candidates.clear();
  if (threshold < (std::uint64_t{1} << 31)) {
    const auto t = static_cast<std::uint32_t>(std::max<std::uint64_t>(threshold, 1));
    (avx2_kernels() ? outputs_at_least_avx2 : outputs_at_least)(f, 0, vocab_, t, candidates);
  }
  // The coded symbol's gradient can be large when its f is not: it is a
  // candidate too, in order.
  const auto at = std::lower_bound(candidates.begin(), candidates.end(), symbol);
  if (symbol < vocab_ && (at == candidates.end() || *at != symbol)) candidates.insert(at, symbol);
  for (const std::uint32_t o : candidates) {
    const std::uint64_t share = (std::uint64_t{f[o]} << 16) / total;
    const std::int64_t g = (o == symbol ? std::int64_t{1} << 16 : 0) - static_cast<std::int64_t>(share);
    if (g >= static_cast<std::int64_t>(kMinGradient) || -g >= static_cast<std::int64_t>(kMinGradient))
      r.entries.push_back({o, static_cast<std::int32_t>(g)});
  }
  r.x.assign(x, x + width_);
}

void OutputAdaptation::apply(std::uint32_t first, std::uint32_t last) {
  // Every contribution in range, ordered by (group, output) with a counting sort.
  struct Term {
    std::int32_t group;
    std::uint32_t output, slot;
    std::int32_t gradient;
  };
  const std::size_t range = last - first;
  std::vector<std::uint32_t> starts(std::size_t{groups_} * range + 1, 0);
  auto key = [&](std::int32_t group, std::uint32_t o) { return static_cast<std::size_t>(group) * range + (o - first); };
  auto in_range = [&](const Recorded& r) {
    const auto begin = std::lower_bound(r.entries.begin(), r.entries.end(), first,
                                        [](const Entry& e, std::uint32_t o) { return e.output < o; });
    const auto end = std::lower_bound(begin, r.entries.end(), last,
                                      [](const Entry& e, std::uint32_t o) { return e.output < o; });
    return std::make_pair(begin, end);
  };
  for (std::uint32_t s = 0; s < recorded_.size(); ++s) {
    if (!recorded_[s].live) continue;
    const auto [begin, end] = in_range(recorded_[s]);
    for (auto it = begin; it != end; ++it) ++starts[key(slot_group_[s], it->output) + 1];
  }
  for (std::size_t k = 1; k < starts.size(); ++k) starts[k] += starts[k - 1];
  std::vector<Term> terms(starts.back());
  for (std::uint32_t s = 0; s < recorded_.size(); ++s) {
    if (!recorded_[s].live) continue;
    const auto [begin, end] = in_range(recorded_[s]);
    for (auto it = begin; it != end; ++it)
      terms[starts[key(slot_group_[s], it->output)]++] = {slot_group_[s], it->output, s, it->gradient};
  }
  const bool vector = avx2_kernels();
  std::vector<std::int32_t> step(width_);
  for (std::size_t t = 0; t < terms.size();) {
    const std::int32_t group = terms[t].group;
    const std::uint32_t o = terms[t].output;
    std::fill(step.begin(), step.end(), 0);
    for (; t < terms.size() && terms[t].group == group && terms[t].output == o; ++t) {
      const std::int8_t* x = recorded_[terms[t].slot].x.data();
      (vector ? add_term_avx2 : add_term)(step.data(), x, terms[t].gradient, width_);
    }
    std::int16_t* d = matrix(static_cast<std::uint32_t>(group)) + std::size_t{o} * stride_;
    (vector ? add_step_avx2 : add_step)(d, step.data(), width_);
    written_[static_cast<std::size_t>(group) * padded_vocab() + o] = 1;
  }
}

void OutputAdaptation::copy_group(std::uint32_t from, std::uint32_t to) {
  if (from >= groups_ || to >= groups_) throw std::out_of_range("output adaptation: no such frame");
  const std::uint32_t rows = padded_vocab();
  const std::uint8_t* source = written_.data() + std::size_t{from} * rows;
  std::uint8_t* target = written_.data() + std::size_t{to} * rows;
  for (std::uint32_t o = 0; o < vocab_; ++o) {
    if (!source[o] && !target[o]) continue;  // both zero: pages left unwritten
    std::copy_n(matrix(from) + std::size_t{o} * stride_, stride_, matrix(to) + std::size_t{o} * stride_);
    target[o] = source[o];
  }
}

void OutputAdaptation::end_step() {
  for (Recorded& r : recorded_) r.live = false;
}

}  // namespace lmzip

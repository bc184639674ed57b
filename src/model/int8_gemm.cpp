#include "model/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lmzip {

namespace {

constexpr std::uint32_t kBlock = 16;     // outputs per block: two 8-lane int32 vectors
constexpr std::uint32_t kMaxIn = 131072;  // 127 * 127 * kMaxIn < 2^31: int32 sums are exact
constexpr std::size_t kRows = 4;          // rows sharing each loaded weight block

const KernelRequest& requested() {
  static const KernelRequest request = parse_kernel_request(std::getenv("LMZIP_KERNELS"));
  return request;
}

std::atomic<bool> use_avx2{requested().avx2};
std::atomic<bool> use_vnni{requested().vnni};

// As block_rows, with AVX-512 VNNI: one vpdpbusd adds four products per lane.
template <std::size_t R>
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline void block_rows_vnni(
    const std::int8_t* wb, const std::uint32_t* xq, std::uint32_t quads, const std::int32_t* offset, std::int32_t* y,
    std::uint32_t out, std::uint32_t width) {
  __m512i acc[R];
  for (std::size_t r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
  for (std::uint32_t q = 0; q < quads; ++q) {
    const __m512i w = _mm512_loadu_si512(wb + 64 * std::size_t{q});
    for (std::size_t r = 0; r < R; ++r)
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(static_cast<int>(xq[r * quads + q])), w);
  }
  const __m512i off = _mm512_loadu_si512(offset);
  const __mmask16 mask = static_cast<__mmask16>(width == kBlock ? 0xFFFFu : (1u << width) - 1);
  for (std::size_t r = 0; r < R; ++r) _mm512_mask_storeu_epi32(y + r * out, mask, _mm512_sub_epi32(acc[r], off));
}

// Rows [0, R) of a row group against one block of 16 outputs; y gets `width`
// of them (16, or fewer in the last block).
template <std::size_t R>
__attribute__((target("avx2"), always_inline)) inline void block_rows(const std::int8_t* wb, const std::int32_t* xp,
                                                                    std::uint32_t pairs, std::int32_t* y,
                                                                    std::uint32_t out, std::uint32_t width) {
  __m256i lo[R], hi[R];
  for (std::size_t r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
  for (std::uint32_t p = 0; p < pairs; ++p) {
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 32 * p)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 32 * p + 16)));
    for (std::size_t r = 0; r < R; ++r) {
      const __m256i x = _mm256_set1_epi32(xp[r * pairs + p]);
      lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(w0, x));
      hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(w1, x));
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    std::int32_t* row = y + r * out;
    if (width == kBlock) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), lo[r]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + 8), hi[r]);
    } else {
      alignas(32) std::int32_t tmp[kBlock];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), lo[r]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), hi[r]);
      std::memcpy(row, tmp, width * sizeof(std::int32_t));
    }
  }
}

}  // namespace

Int8Gemm::Int8Gemm(const std::int8_t* weight, std::uint32_t out, std::uint32_t in)
    : out_(out), in_(in), pairs_((in + 1) / 2), blocks_((out + kBlock - 1) / kBlock), quads_((in + 3) / 4) {
  if (in == 0 || out == 0 || in > kMaxIn) throw std::invalid_argument("int8 gemm: unsupported shape");
  weight_.assign(weight, weight + std::size_t{out} * in);
  packed_.assign(std::size_t{blocks_} * pairs_ * 2 * kBlock, 0);
  for (std::uint32_t o = 0; o < out; ++o) {
    const std::uint32_t b = o / kBlock, lane = o % kBlock;
    for (std::uint32_t k = 0; k < in; ++k)
      packed_[(std::size_t{b} * pairs_ + k / 2) * 2 * kBlock + 2 * lane + k % 2] = weight[std::size_t{o} * in + k];
  }
  if (!cpu_has_vnni()) return;
  packed_quads_.assign(std::size_t{blocks_} * quads_ * 4 * kBlock, 0);
  offset_.assign(std::size_t{blocks_} * kBlock, 0);
  for (std::uint32_t o = 0; o < out; ++o) {
    const std::uint32_t b = o / kBlock, lane = o % kBlock;
    std::uint32_t sum = 0;  // mod 2^32, as the kernel's sums
    for (std::uint32_t k = 0; k < in; ++k) {
      const std::int8_t w = weight[std::size_t{o} * in + k];
      packed_quads_[(std::size_t{b} * quads_ + k / 4) * 4 * kBlock + 4 * lane + k % 4] = w;
      sum += static_cast<std::uint32_t>(std::int32_t{w}) * 128u;
    }
    offset_[o] = static_cast<std::int32_t>(sum);
  }
}

bool cpu_has_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}

bool cpu_has_vnni() {
  static const bool vnni = cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
  return vnni;
}

KernelRequest parse_kernel_request(const char* value) {
  const std::string word = value == nullptr ? "" : value;
  if (word.empty() || word == "auto") return {cpu_has_avx2(), cpu_has_vnni(), ""};
  if (word == "portable") return {false, false, ""};
  if (word == "avx2")
    return cpu_has_avx2() ? KernelRequest{true, false, ""}
                          : KernelRequest{false, false, "LMZIP_KERNELS=avx2: this CPU has no AVX2"};
  if (word == "vnni")
    return cpu_has_vnni() ? KernelRequest{true, true, ""}
                          : KernelRequest{cpu_has_avx2(), false, "LMZIP_KERNELS=vnni: this CPU has no AVX-512 VNNI"};
  return {cpu_has_avx2(), cpu_has_vnni(), "LMZIP_KERNELS must be auto, vnni, avx2 or portable, not '" + word + "'"};
}

const std::string& kernel_request_problem() { return requested().problem; }

const char* kernel_name() { return use_avx2 && use_vnni ? "vnni" : use_avx2 ? "avx2" : "portable"; }

bool avx2_kernels() { return use_avx2; }
void set_avx2_kernels(bool enabled) { use_avx2 = enabled && cpu_has_avx2(); }
bool vnni_kernels() { return use_vnni; }
void set_vnni_kernels(bool enabled) { use_vnni = enabled && cpu_has_vnni(); }

void Int8Gemm::run(const std::int8_t* x, std::size_t n, std::int32_t* y) {
  if (use_avx2 && use_vnni)
    run_vnni(x, n, y);
  else if (use_avx2)
    run_avx2(x, n, y);
  else
    run_portable(x, n, y);
}

void Int8Gemm::run_portable(const std::int8_t* x, std::size_t n, std::int32_t* y) const {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int8_t* xi = x + i * in_;
    for (std::uint32_t o = 0; o < out_; ++o) {
      const std::int8_t* w = weight_.data() + std::size_t{o} * in_;
      std::int32_t sum = 0;
      for (std::uint32_t k = 0; k < in_; ++k) sum += std::int32_t{xi[k]} * w[k];
      y[i * out_ + o] = sum;
    }
  }
}

__attribute__((target("avx2"))) void Int8Gemm::run_avx2(const std::int8_t* x, std::size_t n, std::int32_t* y) {
  // Each row as int16 pairs (x[2p], x[2p+1]) packed in an int32, for broadcasting.
  x_pairs_.resize(n * pairs_);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int8_t* xi = x + i * in_;
    std::int32_t* xp = x_pairs_.data() + i * pairs_;
    for (std::uint32_t p = 0; p < pairs_; ++p) {
      const std::uint32_t lo = static_cast<std::uint16_t>(std::int16_t{xi[2 * p]});
      const std::uint32_t hi = 2 * p + 1 < in_ ? static_cast<std::uint16_t>(std::int16_t{xi[2 * p + 1]}) : 0;
      xp[p] = static_cast<std::int32_t>(lo | hi << 16);
    }
  }
  for (std::uint32_t b = 0; b < blocks_; ++b) {
    const std::int8_t* wb = packed_.data() + std::size_t{b} * pairs_ * 2 * kBlock;
    const std::uint32_t width = std::min(kBlock, out_ - b * kBlock);
    std::int32_t* yb = y + b * kBlock;
    std::size_t i = 0;
    for (; i + kRows <= n; i += kRows)
      block_rows<kRows>(wb, x_pairs_.data() + i * pairs_, pairs_, yb + i * out_, out_, width);
    const std::int32_t* xp = x_pairs_.data() + i * pairs_;
    switch (n - i) {
      case 3: block_rows<3>(wb, xp, pairs_, yb + i * out_, out_, width); break;
      case 2: block_rows<2>(wb, xp, pairs_, yb + i * out_, out_, width); break;
      case 1: block_rows<1>(wb, xp, pairs_, yb + i * out_, out_, width); break;
      default: break;
    }
  }
}

__attribute__((target("avx512f,avx512vnni"))) void Int8Gemm::run_vnni(const std::int8_t* x, std::size_t n,
                                                                     std::int32_t* y) {
  // Each row as x + 128 in unsigned bytes, four to an int32 for broadcasting;
  // past the inner size 128 (x = 0), against zero weights.
  x_quads_.resize(n * quads_);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int8_t* xi = x + i * in_;
    std::uint32_t* xq = x_quads_.data() + i * quads_;
    for (std::uint32_t q = 0; q < quads_; ++q) {
      std::uint32_t word = 0;
      for (std::uint32_t j = 0; j < 4; ++j) {
        const std::uint32_t k = 4 * q + j;
        const std::uint32_t byte = k < in_ ? static_cast<std::uint32_t>(std::int32_t{xi[k]} + 128) : 128u;
        word |= byte << (8 * j);
      }
      xq[q] = word;
    }
  }
  constexpr std::size_t kVnniRows = 8;  // 8 accumulators, the weights and a broadcast: 10 of 32 registers
  for (std::uint32_t b = 0; b < blocks_; ++b) {
    const std::int8_t* wb = packed_quads_.data() + std::size_t{b} * quads_ * 4 * kBlock;
    const std::int32_t* off = offset_.data() + std::size_t{b} * kBlock;
    const std::uint32_t width = std::min(kBlock, out_ - b * kBlock);
    std::int32_t* yb = y + b * kBlock;
    std::size_t i = 0;
    for (; i + kVnniRows <= n; i += kVnniRows)
      block_rows_vnni<kVnniRows>(wb, x_quads_.data() + i * quads_, quads_, off, yb + i * out_, out_, width);
    const std::uint32_t* xq = x_quads_.data() + i * quads_;
    switch (n - i) {
      case 7: block_rows_vnni<7>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      case 6: block_rows_vnni<6>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      case 5: block_rows_vnni<5>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      case 4: block_rows_vnni<4>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      case 3: block_rows_vnni<3>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      case 2: block_rows_vnni<2>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      case 1: block_rows_vnni<1>(wb, xq, quads_, off, yb + i * out_, out_, width); break;
      default: break;
    }
  }
}

}  // namespace lmzip

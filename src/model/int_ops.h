// Integer primitives of the network (docs/model-format.md, "The integer
// network"). Every backend uses these exact rounding rules; the CUDA kernels
// keep __device__ copies (cuda_predictor.cu) that must match them.
#pragma once
#include <cmath>
#include <cstdint>

namespace lmzip::intops {

// (x + 2^(s-1)) >> s with a flooring shift: round half up. 1 <= s <= 62.
inline std::int64_t round_shift(std::int64_t x, unsigned s) {
  return (x + (std::int64_t{1} << (s - 1))) >> s;
}

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// floor((2a + b) / (2b)) for b > 0: a / b rounded half up.
inline std::int64_t round_div(std::int64_t a, std::int64_t b) { return floor_div(2 * a + b, 2 * b); }

inline std::int64_t clamp(std::int64_t x, std::int64_t lo, std::int64_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

// floor(sqrt(n)) for 0 <= n < 2^62. The double estimate is corrected with
// integer checks, so the result does not depend on the libm.
inline std::int64_t isqrt(std::int64_t n) {
  std::int64_t r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(n)));
  while (r > 0 && r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

// floor(log2(x)) for x >= 1, and 0 for x = 0.
constexpr int floor_log2(std::uint64_t x) {
  int r = 0;
  while (x >>= 1) ++r;
  return r;
}

constexpr std::int64_t kResidualLimit = std::int64_t{1} << 24;

}  // namespace lmzip::intops

// The integer primitives every backend shares (model/int_ops.h), at the edges
// of their documented ranges.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "model/int_ops.h"

namespace lmzip::intops {
namespace {

// floor(sqrt(n)) by bisection on integers only: obviously right, slow.
std::int64_t isqrt_by_bisection(std::int64_t n) {
  std::int64_t lo = 0, hi = std::int64_t{1} << 31;  // lo^2 <= n < hi^2 for n < 2^62
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (mid * mid <= n) lo = mid; else hi = mid;
  }
  return lo;
}

TEST(IntOps, IsqrtMatchesBisectionAtEverySquareEdge) {
  for (std::int64_t n = 0; n < 70000; ++n) ASSERT_EQ(isqrt(n), isqrt_by_bisection(n)) << n;
  std::vector<std::int64_t> roots;
  for (std::int64_t k = 1; k < 5000; ++k) roots.push_back(k * 99991);  // spread up to ~5e8
  for (std::int64_t k = (std::int64_t{1} << 31) - 5000; k < (std::int64_t{1} << 31); ++k) roots.push_back(k);
  for (const std::int64_t k : roots) {
    for (const std::int64_t n : {k * k - 1, k * k, k * k + 1, k * k + 2 * k}) {
      if (n >= (std::int64_t{1} << 62)) continue;
      ASSERT_EQ(isqrt(n), isqrt_by_bisection(n)) << n;
    }
  }
  const std::int64_t top = (std::int64_t{1} << 62) - 1;
  EXPECT_EQ(isqrt(top), isqrt_by_bisection(top));
  EXPECT_EQ(isqrt(top), (std::int64_t{1} << 31) - 1);
}

TEST(IntOps, RoundShiftRoundsHalfUpOnBothSides) {
  EXPECT_EQ(round_shift(3, 1), 2);    // 1.5
  EXPECT_EQ(round_shift(-3, 1), -1);  // -1.5
  EXPECT_EQ(round_shift(-5, 2), -1);  // -1.25
  EXPECT_EQ(round_shift(-6, 2), -1);  // -1.5
  EXPECT_EQ(round_shift(-7, 2), -2);  // -1.75
  EXPECT_EQ(round_shift(std::int64_t{1} << 61, 62), 1);
  EXPECT_EQ(round_shift((std::int64_t{1} << 61) - 1, 62), 0);
  EXPECT_EQ(round_shift(-(std::int64_t{1} << 61), 62), 0);
  EXPECT_EQ(round_shift(-(std::int64_t{1} << 61) - 1, 62), -1);
}

TEST(IntOps, FloorLog2) {
  EXPECT_EQ(floor_log2(0), 0);
  EXPECT_EQ(floor_log2(1), 0);
  for (int b = 1; b < 64; ++b) {
    const std::uint64_t p = std::uint64_t{1} << b;
    EXPECT_EQ(floor_log2(p - 1), b - 1) << b;
    EXPECT_EQ(floor_log2(p), b) << b;
    EXPECT_EQ(floor_log2(p + 1), b) << b;
  }
  EXPECT_EQ(floor_log2(~std::uint64_t{0}), 63);
}

}  // namespace
}  // namespace lmzip::intops

// The exact int8 product against plain int32 loops, for every kernel and
// shapes that leave partial output blocks, odd inner sizes and row tails.
#include "model/int8_gemm.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace lmzip {
namespace {

std::vector<std::int8_t> random_int8(std::size_t n, std::mt19937& rng) {
  std::vector<std::int8_t> v(n);
  for (auto& e : v) e = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  return v;
}

// 0: VNNI, 1: AVX2, 2: portable loops.
class KernelSetting : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    // A kernel this CPU lacks is skipped, not tested twice under another name.
    if (GetParam() == 0 && !cpu_has_vnni()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
    if (GetParam() == 1 && !cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    set_avx2_kernels(GetParam() < 2);
    set_vnni_kernels(GetParam() == 0);
    ASSERT_STREQ(kernel_name(), GetParam() == 0 ? "vnni" : GetParam() == 1 ? "avx2" : "portable");
  }
  void TearDown() override {
    set_avx2_kernels(true);
    set_vnni_kernels(true);
  }
};

TEST_P(KernelSetting, ProductsMatchPlainLoops) {
  std::mt19937 rng(5);
  struct Shape {
    std::uint32_t out, in;
    std::size_t rows;
  };
  for (const Shape s : {Shape{16, 2, 4}, Shape{37, 7, 5}, Shape{130, 128, 9}, Shape{8, 1031, 3}, Shape{2048, 128, 6},
                        Shape{33, 5, 17}}) {
    const auto w = random_int8(std::size_t{s.out} * s.in, rng);
    const auto x = random_int8(s.rows * s.in, rng);
    Int8Gemm gemm(w.data(), s.out, s.in);
    std::vector<std::int32_t> y(s.rows * s.out, -1);
    gemm.run(x.data(), s.rows, y.data());
    for (std::size_t r = 0; r < s.rows; ++r)
      for (std::uint32_t o = 0; o < s.out; ++o) {
        std::int32_t want = 0;
        for (std::uint32_t k = 0; k < s.in; ++k) want += std::int32_t{x[r * s.in + k]} * w[std::size_t{o} * s.in + k];
        ASSERT_EQ(y[r * s.out + o], want) << s.out << "x" << s.in << " row " << r << " out " << o;
      }
  }
}

TEST_P(KernelSetting, ExtremeValuesStayExact) {
  // All +-127: the largest sums the int32 accumulators must hold.
  const std::uint32_t in = 4096, out = 24;
  std::vector<std::int8_t> w(std::size_t{out} * in, 127), x(3 * in, -127);
  Int8Gemm gemm(w.data(), out, in);
  std::vector<std::int32_t> y(3 * out);
  gemm.run(x.data(), 3, y.data());
  for (std::int32_t v : y) EXPECT_EQ(v, -127 * 127 * static_cast<std::int32_t>(in));

  // The largest inner size, all +127: the VNNI kernel's sums of (x + 128) * w
  // pass 2^32 and wrap; taking the offset off brings them back.
  const std::uint32_t longest = 131072;
  std::vector<std::int8_t> w2(std::size_t{2} * longest, 127), x2(longest, 127);
  Int8Gemm big(w2.data(), 2, longest);
  std::vector<std::int32_t> y2(2);
  big.run(x2.data(), 1, y2.data());
  for (std::int32_t v : y2) EXPECT_EQ(v, 127 * 127 * static_cast<std::int32_t>(longest));
}

INSTANTIATE_TEST_SUITE_P(Int8Gemm, KernelSetting, ::testing::Values(0, 1, 2), [](const auto& info) {
  return info.param == 0 ? "vnni" : info.param == 1 ? "avx2" : "portable";
});

TEST(Int8Gemm, RejectsShapesItCannotSumExactly) {
  std::vector<std::int8_t> w(1);
  EXPECT_THROW(Int8Gemm(w.data(), 1, 0), std::invalid_argument);
  EXPECT_THROW(Int8Gemm(w.data(), 0, 1), std::invalid_argument);
}

// LMZIP_KERNELS: each word, and what a CPU without the kernel says.
TEST(KernelRequest, EnvironmentWordsPickKernels) {
  for (const char* unset : {static_cast<const char*>(nullptr), "", "auto"}) {
    const KernelRequest r = parse_kernel_request(unset);
    EXPECT_EQ(r.avx2, cpu_has_avx2());
    EXPECT_EQ(r.vnni, cpu_has_vnni());
    EXPECT_TRUE(r.problem.empty());
  }
  const KernelRequest portable = parse_kernel_request("portable");
  EXPECT_FALSE(portable.avx2 || portable.vnni);
  EXPECT_TRUE(portable.problem.empty());
  const KernelRequest avx2 = parse_kernel_request("avx2");
  EXPECT_EQ(avx2.problem.empty(), cpu_has_avx2()) << avx2.problem;
  EXPECT_FALSE(avx2.vnni);
  const KernelRequest vnni = parse_kernel_request("vnni");
  EXPECT_EQ(vnni.problem.empty(), cpu_has_vnni()) << vnni.problem;
  if (!cpu_has_vnni()) {
    EXPECT_NE(vnni.problem.find("no AVX-512 VNNI"), std::string::npos) << vnni.problem;
  }
  const KernelRequest bad = parse_kernel_request("sse2");
  EXPECT_NE(bad.problem.find("auto, vnni, avx2 or portable, not 'sse2'"), std::string::npos) << bad.problem;
}

}  // namespace
}  // namespace lmzip

// Exact int8 matrix products for the CPU predictor: y[row][o] = sum_k
// x[row][k] * w[o][k] in int32. Integer sums do not depend on their order, so
// the AVX2 kernel and the plain loops give the same numbers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip {

// Whether the CPU kernels (these products, attention and the output tables)
// use AVX2. On by default where the CPU has it; tests switch it off to check
// that the portable loops give the same integers. Not thread-safe to change
// while predictors run.
bool avx2_kernels();
void set_avx2_kernels(bool enabled);  // true only takes effect on CPUs with AVX2

class Int8Gemm {
 public:
  // weight: [out][in], entries in [-127, 127]; copied and repacked.
  Int8Gemm(const std::int8_t* weight, std::uint32_t out, std::uint32_t in);

  std::uint32_t out() const { return out_; }
  std::uint32_t in() const { return in_; }

  // x: n rows of in() values in [-127, 127]; y: n rows of out() sums.
  void run(const std::int8_t* x, std::size_t n, std::int32_t* y);

 private:
  void run_avx2(const std::int8_t* x, std::size_t n, std::int32_t* y);
  void run_portable(const std::int8_t* x, std::size_t n, std::int32_t* y) const;

  std::uint32_t out_, in_;
  std::uint32_t pairs_;   // (in + 1) / 2
  std::uint32_t blocks_;  // (out + 15) / 16
  std::vector<std::int8_t> weight_;  // [out][in]
  // [block][pair][16 outputs][2 inputs], zero-padded: one vpmaddwd operand
  // per half block after sign extension.
  std::vector<std::int8_t> packed_;
  std::vector<std::int32_t> x_pairs_;  // scratch: [row][pair] two int16 in one int32
};

}  // namespace lmzip

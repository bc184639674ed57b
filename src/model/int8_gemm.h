// Exact int8 matrix products for the CPU predictor: y[row][o] = sum_k
// x[row][k] * w[o][k] in int32. Integer sums do not depend on their order, so
// the AVX2 kernel and the plain loops give the same numbers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

bool cpu_has_avx2();
bool cpu_has_vnni();  // AVX-512 VNNI (with AVX2)

// The kernels asked for by the environment variable LMZIP_KERNELS: "auto"
// (or unset: the best this CPU has), "vnni", "avx2" or "portable" (plain
// loops). Every choice computes the same integers; the switch is for tests
// and for users who want to check that. `problem` is empty, or says why the
// request cannot be honoured (an unknown word, or a kernel this CPU lacks);
// then no predictor starts (make_cpu_predictor throws).
struct KernelRequest {
  bool avx2 = false;
  bool vnni = false;
  std::string problem;
};
KernelRequest parse_kernel_request(const char* value);
// This process's LMZIP_KERNELS problem, read once ("" when none).
const std::string& kernel_request_problem();
// "vnni", "avx2" or "portable": what the products run now.
const char* kernel_name();

// Whether the CPU kernels (these products, attention and the output tables)
// use AVX2. On by default where the CPU has it; tests switch it off to check
// that the portable loops give the same integers. Not thread-safe to change
// while predictors run.
bool avx2_kernels();
void set_avx2_kernels(bool enabled);  // true only takes effect on CPUs with AVX2
// Whether the products use AVX-512 VNNI (where the CPU has it and AVX2
// kernels are on); tests switch it off to check the AVX2 kernel.
bool vnni_kernels();
void set_vnni_kernels(bool enabled);  // true only takes effect on CPUs with AVX-512 VNNI

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
  void run_vnni(const std::int8_t* x, std::size_t n, std::int32_t* y);
  void run_portable(const std::int8_t* x, std::size_t n, std::int32_t* y) const;

  std::uint32_t out_, in_;
  std::uint32_t pairs_;   // (in + 1) / 2
  std::uint32_t blocks_;  // (out + 15) / 16
  std::vector<std::int8_t> weight_;  // [out][in]
  // [block][pair][16 outputs][2 inputs], zero-padded: one vpmaddwd operand
  // per half block after sign extension.
  std::vector<std::int8_t> packed_;
  std::vector<std::int32_t> x_pairs_;  // scratch: [row][pair] two int16 in one int32
  // VNNI: [block][quad][16 outputs][4 inputs], zero-padded, multiplied with
  // x + 128 as unsigned bytes; offset_[o] = 128 * sum_k w[o][k] is taken off
  // after (sums wrap mod 2^32 on the way: the result is exact).
  std::uint32_t quads_;  // (in + 3) / 4
  std::vector<std::int8_t> packed_quads_;
  std::vector<std::int32_t> offset_;   // [blocks * 16]
  std::vector<std::uint32_t> x_quads_;  // scratch: [row][quad] four x + 128 bytes
};

}  // namespace lmzip

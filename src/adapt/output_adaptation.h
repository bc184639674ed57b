// Output adaptation (docs/format.md "Output adaptation"): a
// correction to the network's output layer learned while coding, one per
// frame. The network is trained on other text; on a file's own vocabulary
// and layout it is often far off (the bench's trans: 6.1 bits/byte from the
// network alone), and a term learned from the symbols coded so far moves
// its whole table, where counts and matches only boost a few symbols.
//
// Per frame g, an int16 matrix D_g [V][width], zero at the start. A row with
// final-norm output x (the output layer's int8 input) adds
//   round_shift(sum_j D_g[o][j] x[j], 16)
// to its logit o. After a step, every row of the step with table f (total T)
// that coded symbol y has gradients g[o] = [o == y] 2^16 - floor(f[o] 2^16 / T);
// those with |g[o]| >= 64 contribute, and D_g[o][j] becomes
// clamp(D_g[o][j] + sum over the contributions to o of round_shift(g[o] x[j], 12),
// -32767, 32767): a sum does not depend on the order of the rows, so neither
// on threads nor on backends. The kernels follow avx2_kernels() and
// vnni_kernels() (model/int8_gemm.h). (|g| >= 17 changes the bench's text by 0.05%,
// at 1.2 times the time.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "adapt/zeroed_array.h"
#include "model/predictor.h"

namespace lmzip {

class OutputAdaptation final : public OutputAdjustment {
 public:
  static constexpr unsigned kLogitShift = 16;
  static constexpr unsigned kStepShift = 12;
  static constexpr std::int32_t kLimit = 32767;
  static constexpr std::uint32_t kMinGradient = 64;
  static constexpr std::uint32_t kMaxWidth = 512;  // int32 sums: 512 * 32767 * 127 < 2^31

  // `groups` frames' matrices, for up to `streams` slots.
  OutputAdaptation(std::uint32_t vocab_size, std::uint32_t groups, std::uint32_t streams);
  // The bytes of one group's matrix for a network of this vocabulary and width.
  static std::size_t matrix_bytes(std::uint32_t vocab_size, std::uint32_t width);
  // The width of x, which the predictor's network sets when attached (the
  // matrices are made then); std::invalid_argument if another was set or
  // the width is over kMaxWidth.
  void set_width(std::uint32_t width) override;

  std::uint32_t vocab_size() const { return vocab_; }
  std::uint32_t width() const { return width_; }
  // The frame whose matrix slot s uses from now on (-1: none; the start).
  void assign(std::uint32_t slot, std::int32_t group);
  std::int32_t group(std::uint32_t slot) const override { return slot_group_[slot]; }

  // adjustments[i][o] = round_shift(sum_j D_g[o][j] x[i][j], 16) for n rows
  // x [n][width] of group g: what row i adds to its logits.
  // Predictors' threads may call it at once.
  void adjustments(std::uint32_t group, const std::int8_t* x, std::size_t n, std::int32_t* out) const override;

  // Slot s coded `symbol` from table f (vocab_size() entries, total T) with
  // final-norm output x: keeps its contribution for apply(). Slots of a step
  // are distinct, so different threads may record different slots.
  void record(std::uint32_t slot, const std::uint32_t* f, std::uint64_t total, std::uint32_t symbol,
              const std::int8_t* x) override;
  // Adds the recorded contributions to rows [first, last) of the matrices;
  // calls for disjoint ranges may run at once. end_step() then forgets them.
  void apply(std::uint32_t first, std::uint32_t last);
  void end_step();
  // Group `to`'s matrix becomes group `from`'s.
  void copy_group(std::uint32_t from, std::uint32_t to);

 private:
  struct Entry {
    std::uint32_t output;
    std::int32_t gradient;
  };
  struct Recorded {
    std::vector<Entry> entries;  // ascending outputs, gradients with a non-zero step
    std::vector<std::int8_t> x;
    bool live = false;
    std::vector<std::uint32_t> candidates;  // scratch
  };
  // D_g[o][j] at [o][j] in rows of stride_ (width rounded up to 32, zero-padded).
  std::int16_t* matrix(std::uint32_t group) { return matrices_.data() + std::size_t{group} * matrix_size_; }
  const std::int16_t* matrix(std::uint32_t group) const {
    return matrices_.data() + std::size_t{group} * matrix_size_;
  }

  std::uint32_t padded_vocab() const { return (vocab_ + 7) / 8 * 8; }

  std::uint32_t vocab_, groups_, width_ = 0, stride_ = 0;
  std::size_t matrix_size_ = 0;
  // Zero pages until written: a short frame touches few rows of its matrix.
  ZeroedArray<std::int16_t> matrices_;
  // [group][output]: 1 once row o of D_g has been written. Rows never written
  // are zero and add nothing, so adjustments() skips them; bytes, not bits,
  // so apply() calls for disjoint ranges never write the same word.
  ZeroedArray<std::uint8_t> written_;
  std::vector<std::int32_t> slot_group_;
  std::vector<Recorded> recorded_;  // [slot]
};

}  // namespace lmzip

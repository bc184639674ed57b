// The engine's view of a model: B independent streams stepped in lock-step.
// A frequency table is a pure function of (model, symbols fed to that slot
// since its reset): it does not depend on the slot number, on which other
// slots are stepped with it, on thread count or on the backend.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lmzip {

class Predictor {
 public:
  virtual ~Predictor() = default;
  // Output alphabet size V. The input alphabet has one more symbol, bos() == V,
  // fed first after a reset.
  virtual std::uint32_t vocab_size() const = 0;
  std::uint32_t bos() const { return vocab_size(); }
  virtual std::uint32_t max_streams() const = 0;
  // Starts slot over with an empty context.
  virtual void reset(std::uint32_t slot) = 0;
  // Feeds symbols[i] to slot slots[i] for i < count (distinct slots), and writes
  // the frequency table of each slot's next symbol to freqs[i * V .. (i+1) * V).
  // Every frequency is >= 1 and each table's total is <= 2^32.
  virtual void step(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count,
                    std::uint32_t* freqs) = 0;
};

}  // namespace lmzip

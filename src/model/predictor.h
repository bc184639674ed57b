// The engine's view of a model: B independent streams stepped in lock-step.
// A frequency table is a pure function of (model, symbols fed to that slot
// since its reset): it does not depend on the slot number, on which other
// slots are stepped with it, on thread count or on the backend.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace lmzip {

// A per-frame term that a predictor adds to its rows' logits, learned while
// coding (adapt/output_adaptation.h implements it; docs/format.md defines
// it). The predictor hands it each row's final-norm output (the output
// layer's int8 input) and, after the row is coded, the row's table.
class OutputAdjustment {
 public:
  virtual ~OutputAdjustment() = default;
  // The width of x, set by the network when attached.
  virtual void set_width(std::uint32_t width) = 0;
  // The frame whose term slot s adds (-1: none).
  virtual std::int32_t group(std::uint32_t slot) const = 0;
  // out[i][o]: what row i (final-norm output x[i], of frame `group`) adds to logit o.
  virtual void adjustments(std::uint32_t group, const std::int8_t* x, std::size_t n, std::int32_t* out) const = 0;
  // Slot s coded `symbol` from table f (total `total`) with final-norm output x.
  virtual void record(std::uint32_t slot, const std::uint32_t* f, std::uint64_t total, std::uint32_t symbol,
                      const std::int8_t* x) = 0;
};

// What a run of chunks asks of a predictor beyond the tables (the backend
// factory, model/backend.h, picks a device that has it).
struct PredictorNeeds {
  bool adapts_output = false;      // an OutputAdjustment attached (Predictor::attach)
  std::size_t ranges_per_row = 1;  // the most symbols asked of one table in ranges_of_many()
};

// What a range coder needs of one table and one symbol in it.
struct SymbolRange {
  std::uint64_t below = 0;  // sum of the frequencies of the symbols before `symbol`
  std::uint64_t total = 0;  // sum of the table
  std::uint32_t freq = 0;   // frequency of `symbol`
  std::uint32_t symbol = 0;
};

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
  // A slot's context as bytes, and back, so that texts sharing a beginning
  // compute it once: after load_slot(t, save_slot(s)), slot t gives the
  // tables slot s would. Backends where saves_slots() is false throw
  // std::logic_error (the caller computes the beginning again).
  virtual bool saves_slots() const { return false; }
  virtual std::vector<std::uint8_t> save_slot(std::uint32_t slot) const;
  virtual void load_slot(std::uint32_t slot, const std::vector<std::uint8_t>& state);
  // Feeds symbols[i] to slot slots[i] for i < count (distinct slots), and writes
  // the frequency table of each slot's next symbol to freqs[i * V .. (i+1) * V).
  // Every frequency is >= 1 and each table's total is <= 2^32.
  virtual void step(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count,
                    std::uint32_t* freqs) = 0;

  // The coding interface: the same step, with the tables kept inside the
  // predictor (a GPU keeps them in device memory) and only what the range
  // coder needs handed out. advance() is step() without the tables; row i
  // below is the i-th stream of the last advance(). The defaults go through
  // step() and a host copy of the tables.
  virtual void advance(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count);
  // Encoding: out[i] = the range of symbols[i] in table i.
  virtual void ranges_of(const std::uint32_t* symbols, SymbolRange* out);
  // The same for `per_row` symbols of each table: out[i * per_row + j] = the
  // range of symbols[i * per_row + j] in table i. The default asks ranges_of()
  // a column at a time, or reads the host tables.
  virtual void ranges_of_many(const std::uint32_t* symbols, std::size_t per_row, SymbolRange* out);
  // Decoding: out[i] = the range of the symbol s with
  // below(s) <= targets[i] < below(s) + freq(s) (targets below table i's total).
  virtual void find(const std::uint64_t* targets, SymbolRange* out);
  // Runs fn(first, last) over ranges that split rows [0, n): on the threads
  // of the predictor's parts where it has several (ParallelPredictor), else
  // as fn(0, n). For per-row work of the caller between the calls above; fn
  // must not call the predictor.
  virtual void for_row_ranges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn);

  // Output adaptation (OutputAdjustment above), the one exception to the
  // rule above: a slot that `adaptation` assigns to a frame adds that frame's
  // learned term to its logits. Slot s here is slot s * stride + offset there.
  // nullptr detaches. The CPU backend has it; the others throw
  // std::logic_error.
  virtual void attach(OutputAdjustment* adaptation, std::uint32_t stride = 1, std::uint32_t offset = 0);
  // After the rows of the last advance() coded symbols[i]: records each
  // row's contribution with the attached adaptation.
  virtual void learn(const std::uint32_t* symbols);

 protected:
  std::size_t advanced_rows() const { return rows_; }
  // Row i of the last advance() through the default implementation.
  const std::uint32_t* host_table(std::size_t i) const { return tables_.data() + i * vocab_size(); }
  std::uint64_t host_total(std::size_t i) const { return block_below_[(i + 1) * (blocks() + 1) - 1]; }
  void set_advanced_rows(std::size_t rows) { rows_ = rows; }

 private:
  // Rows of a table are summed in blocks once per advance(), so that a range
  // or a search reads one block of frequencies instead of the whole table.
  static constexpr std::uint32_t kBlock = 64;
  std::uint32_t blocks() const { return (vocab_size() + kBlock - 1) / kBlock; }
  // Row i's range of symbol s, from its block sums.
  SymbolRange host_range(std::size_t i, std::uint32_t s) const;

  std::vector<std::uint32_t> tables_;  // the default implementation's tables
  std::vector<std::uint64_t> block_below_;  // per row: blocks() + 1 sums of the blocks before, the last the total
  std::size_t rows_ = 0;
  bool host_tables_ = false;  // tables_ holds the last advance()'s tables
};

}  // namespace lmzip

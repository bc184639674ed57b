// The frame's own statistics as a third predictor: which symbols followed the
// last one to the last four or six symbols (by the recipe's CountsKind), and how
// often, in every chunk of the frame so far in the lock-step. A static network
// cannot learn a file's vocabulary (names, fields, verses); counts do, and
// matches only repeat the last occurrence. Mixed with the network's table as a
// weighted sum whose weights are learned per frame. Integer-only;
// docs/format.md ("Context counts") defines it.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "adapt/zeroed_array.h"
#include "format/chunk_recipe.h"

namespace lmzip {

class ContextCounts {
 public:
  // What a kind of counts keeps: contexts of 1..orders symbols, `entries`
  // followers kept per context, in tables of at most 2^max_bits contexts an
  // order (order 1: 2^first_order_max_bits). orders 0: the chunk does not count.
  struct Shape {
    int orders = 0;
    int entries = 0;
    int max_bits = 17;
    int first_order_max_bits = 17;
    bool operator==(const Shape& o) const {
      return orders == o.orders && entries == o.entries && max_bits == o.max_bits &&
             first_order_max_bits == o.first_order_max_bits;
    }
  };
  static constexpr Shape kNarrow{4, 15, 17, 17};
  static constexpr Shape kWide{6, 31, 17, 17};
  // A large frame's contexts outnumber kWide's tables (bible.txt
  // has about 2^20 symbols). On the bench text at -5, tables of 2^19 measured
  // 1.0% smaller (2^20: 1.1%, at twice the memory), then 47 followers a
  // context 0.6% more, 7% slower. Order 1 has at most one context a
  // vocabulary symbol, and the hash spreads those without collisions in 2^13.
  static constexpr Shape kWideLarge{6, 47, 19, 13};
  static constexpr int kMaxOrders = kWideLarge.orders;
  static constexpr int kMaxEntries = kWideLarge.entries;
  static constexpr int kMaxCandidates = kMaxOrders * kMaxEntries;

  struct Chunk {
    std::uint32_t frame = 0;
    std::uint32_t symbol_count = 0;
    Shape shape;  // the same for every counting chunk of a frame
  };
  // Throws std::invalid_argument if a frame's counting chunks differ in shape.
  explicit ContextCounts(const std::vector<Chunk>& chunks);
  // The bytes of the tables of a frame of `frame_symbols` counted symbols.
  static std::size_t table_bytes(const Shape& shape, std::uint64_t frame_symbols);

  // Before a step (rows in ascending chunk order): takes its rows.
  void begin_step(const std::uint32_t* ids, std::size_t n);
  // Then looks up the contexts of rows [first, last). Disjoint ranges of rows
  // may run on different threads, as may add_boosts() for distinct rows.
  void predict(const std::uint32_t* positions, std::size_t first, std::size_t last);
  // Row i's followers seen (distinct, at most kMaxCandidates); returns their number.
  std::size_t candidates(std::size_t i, std::uint32_t* out) const;
  // Adds to boosts[j] what the counts add to symbols[j] (row i's candidates,
  // ascending, k of them) in its table, whose network total is
  // `network_total` (<= 2^27): over its contexts,
  // floor(floor(network_total * weight / 2^16) * count / total count).
  void add_boosts(std::size_t i, std::uint64_t network_total, const std::uint32_t* symbols, std::size_t k,
                  std::uint64_t* boosts) const;
  // After row i coded `symbol` with range (freq, total) in the mixed table:
  // the weights' gradient for that row.
  void update(std::size_t i, std::uint32_t symbol, std::uint64_t freq, std::uint64_t total,
              std::uint64_t network_total);
  // After every row of the step is updated: weights move, then counts, in
  // row order. Each order's table is its own, so `for_ranges(orders, fn)`
  // may split the orders between threads: fn(first, last) counts orders
  // [first, last) (Predictor::for_row_ranges fits).
  using RangeRunner = std::function<void(std::size_t, const std::function<void(std::size_t, std::size_t)>&)>;
  void end_step(const std::uint32_t* ids, std::size_t n, const RangeRunner& for_ranges);

  // Chunk `to`, the only chunk of its frame and at position 0, goes on from
  // where chunk `from`, the only chunk of its, is: to's frame takes from's
  // counts and weights, `to` its recent symbols. std::invalid_argument where
  // the frames' shapes or table sizes differ.
  void resume_from(std::uint32_t from, std::uint32_t to);

 private:
  static constexpr int kWeightBuckets = 16;
  struct Context {
    std::uint32_t bucket = 0;  // index of its bucket in the frame's table
    std::uint32_t total = 0;   // 0: no counts for it
    std::uint32_t entries[kMaxEntries] = {};  // symbol << 16 | count; the frame's shape.entries used
    std::uint8_t weight = 0;   // its weight's bucket
  };
  struct Frame {
    Shape shape;
    ZeroedArray<std::uint32_t> table[kMaxOrders];  // buckets of 1 + entries words: check, entries
    int hash_shift[kMaxOrders] = {};
    std::uint32_t weights[kMaxOrders][kWeightBuckets];
    std::int64_t gradient[kMaxOrders][kWeightBuckets];
    std::uint32_t rows[kMaxOrders][kWeightBuckets];
  };
  std::uint32_t hash(const std::uint16_t* last, int order) const;
  // Counts the step's symbols in orders [first, last) of their frames' tables.
  void count(const std::uint32_t* ids, std::size_t n, int first, int last);

  std::vector<Chunk> chunks_;
  std::vector<Frame> frames_;
  std::vector<std::uint16_t> recent_;      // per chunk: its last kMaxOrders symbols, newest first
  std::vector<std::uint32_t> seen_;        // per chunk: symbols coded so far
  std::vector<std::uint32_t> row_ids_;
  std::vector<Context> contexts_;          // per row: kMaxOrders
  std::vector<std::uint32_t> symbols_;     // per row: the symbol coded
  std::vector<std::uint64_t> frame_step_;  // per frame: the last step whose weights it moved
  std::uint64_t steps_ = 0;
};

// The counts a recipe's kind keeps (orders 0: none).
constexpr ContextCounts::Shape counts_shape(CountsKind kind) {
  switch (kind) {
    case CountsKind::Narrow:
      return ContextCounts::kNarrow;
    case CountsKind::Wide:
      return ContextCounts::kWide;
    case CountsKind::WideLarge:
      return ContextCounts::kWideLarge;
    case CountsKind::None:
      break;
  }
  return {};
}

}  // namespace lmzip

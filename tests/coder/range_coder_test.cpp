// Range coder: exact round trips over many table shapes, overhead against the
// ideal code length, and safe behaviour on garbage or truncated input.
#include "coder/range_coder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

namespace lmzip {
namespace {

// A frequency table with its cumulative sums.
struct Table {
  std::vector<std::uint32_t> freq;
  std::vector<std::uint64_t> cum;
  std::uint64_t total = 0;
  explicit Table(std::vector<std::uint32_t> f) : freq(std::move(f)), cum(freq.size() + 1) {
    total = cumulative_frequencies(freq.data(), freq.size(), cum.data());
  }
};

// Random frequencies >= 1 for `symbols` symbols summing to at most `max_total`.
Table random_table(std::mt19937_64& rng, std::size_t symbols, std::uint64_t max_total) {
  const std::uint64_t spare = max_total - symbols;  // shared out on top of the 1 each symbol gets
  std::vector<std::uint64_t> weights(symbols);
  std::uint64_t weight_sum = 0;
  for (auto& w : weights) {
    // Heavy-tailed weights, so some tables are flat and some are peaked.
    w = rng() % 1000 + 1;
    if (rng() % 8 == 0) w *= 1000;
    weight_sum += w;
  }
  std::vector<std::uint32_t> freq(symbols);
  for (std::size_t s = 0; s < symbols; ++s)
    freq[s] = static_cast<std::uint32_t>(1 + static_cast<std::uint64_t>(
                                                 static_cast<double>(spare) * weights[s] / weight_sum * 0.999999));
  return Table(std::move(freq));
}

// Draws a symbol with probability freq/total, as a model would expect.
std::size_t draw(std::mt19937_64& rng, const Table& t) {
  return find_symbol(t.cum.data(), t.freq.size(), rng() % t.total);
}

struct Coded {
  std::vector<std::uint8_t> bytes;
  double ideal_bits = 0;
};

Coded encode_all(const std::vector<const Table*>& tables, const std::vector<std::size_t>& symbols) {
  Coded coded;
  RangeEncoder encoder(coded.bytes);
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const Table& t = *tables[i];
    encoder.encode(t.cum[symbols[i]], t.freq[symbols[i]], t.total);
    coded.ideal_bits += ideal_bits(t.freq[symbols[i]], t.total);
  }
  encoder.finish();
  return coded;
}

std::vector<std::size_t> decode_all(const std::vector<std::uint8_t>& bytes, const std::vector<const Table*>& tables,
                                    bool* overrun = nullptr) {
  RangeDecoder decoder(bytes.data(), bytes.size());
  std::vector<std::size_t> symbols;
  for (const Table* t : tables) {
    const std::size_t s = find_symbol(t->cum.data(), t->freq.size(), decoder.target(t->total));
    decoder.consume(t->cum[s], t->freq[s]);
    symbols.push_back(s);
  }
  if (overrun) *overrun = decoder.overrun();
  return symbols;
}

// Encodes `count` symbols drawn from tables chosen at random from `pool`,
// decodes them and checks they match. Returns the coded stream.
Coded round_trip(std::mt19937_64& rng, const std::vector<Table>& pool, std::size_t count) {
  std::vector<const Table*> tables;
  std::vector<std::size_t> symbols;
  for (std::size_t i = 0; i < count; ++i) {
    tables.push_back(&pool[rng() % pool.size()]);
    symbols.push_back(draw(rng, *tables.back()));
  }
  Coded coded = encode_all(tables, symbols);
  bool overrun = true;
  EXPECT_EQ(decode_all(coded.bytes, tables, &overrun), symbols);
  EXPECT_FALSE(overrun);
  return coded;
}

TEST(RangeCoder, RoundTripRandomTables) {
  std::mt19937_64 rng(1);
  const std::size_t alphabet_sizes[] = {2, 256, 65536};
  const std::uint64_t totals[] = {std::uint64_t{1} << 16, std::uint64_t{1} << 24, kMaxTotal - 12345, kMaxTotal};
  for (std::size_t symbols : alphabet_sizes) {
    for (std::uint64_t max_total : totals) {
      std::vector<Table> pool;
      for (int i = 0; i < 8; ++i) pool.push_back(random_table(rng, symbols, max_total));
      for (const Table& t : pool) ASSERT_LE(t.total, max_total);
      for (std::size_t count : {1, 2, 3, 10, 1000, 20000}) {
        SCOPED_TRACE(testing::Message() << "V=" << symbols << " total<=" << max_total << " n=" << count);
        round_trip(rng, pool, count);
      }
    }
  }
}

TEST(RangeCoder, TinyAndExactTotals) {
  std::mt19937_64 rng(2);
  // Smallest possible tables, and a total of exactly 2^32 split in two.
  std::vector<Table> pool = {Table({1}), Table({1, 1}), Table({1, 2}), Table({3, 1, 1}),
                             Table({0x80000000u, 0x80000000u}), Table({1, 0xFFFFFFFFu})};
  ASSERT_EQ(pool[4].total, kMaxTotal);
  ASSERT_EQ(pool[5].total, kMaxTotal);
  for (std::size_t count : {0, 1, 5, 100, 50000}) round_trip(rng, pool, count);
}

TEST(RangeCoder, EmptyStreamWritesNothing) {
  std::vector<std::uint8_t> out = {0xAB, 0xCD};
  RangeEncoder encoder(out);
  encoder.finish();
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0xAB, 0xCD}));  // appends only, and nothing here

  RangeDecoder decoder(nullptr, 0);
  EXPECT_FALSE(decoder.overrun());
}

TEST(RangeCoder, CertainSymbolCostsNothing) {
  // A one-symbol alphabet carries no information: a million of them code to nothing.
  std::vector<std::uint8_t> out;
  RangeEncoder encoder(out);
  for (int i = 0; i < 1000000; ++i) encoder.encode(0, 7, 7);
  encoder.finish();
  EXPECT_LE(out.size(), 1u);
}

TEST(RangeCoder, AppendsAfterExistingBytes) {
  std::mt19937_64 rng(3);
  const Table t = random_table(rng, 256, 1 << 20);
  std::vector<std::size_t> symbols;
  std::vector<const Table*> tables;
  for (int i = 0; i < 1000; ++i) {
    tables.push_back(&t);
    symbols.push_back(draw(rng, t));
  }
  const Coded alone = encode_all(tables, symbols);
  std::vector<std::uint8_t> out = {1, 2, 3};
  RangeEncoder encoder(out);
  for (std::size_t s : symbols) encoder.encode(t.cum[s], t.freq[s], t.total);
  encoder.finish();
  ASSERT_EQ(out.size(), alone.bytes.size() + 3);
  EXPECT_TRUE(std::equal(alone.bytes.begin(), alone.bytes.end(), out.begin() + 3));
}

// The textbook way to handle a carry: add it to the bytes already written,
// walking back over 0xFF bytes. Same arithmetic as RangeEncoder, so the bytes
// must be identical; this checks the cache + pending-run bookkeeping.
struct ReferenceEncoder {
  std::vector<std::uint8_t> out;
  std::uint64_t low = 0, range = std::uint64_t{1} << 56;
  std::size_t carries = 0, carries_through_ff = 0;

  void add_carry_if_any() {
    if (low < (std::uint64_t{1} << 56)) return;
    low -= std::uint64_t{1} << 56;
    ++carries;
    std::size_t i = out.size();
    ASSERT_GT(i, 0u) << "carry out of the first byte";
    while (out[i - 1] == 0xFF) {
      out[--i] = 0x00;
      ++carries_through_ff;
      ASSERT_GT(i, 0u) << "carry out of the first byte";
    }
    ++out[i - 1];
  }
  void encode(std::uint64_t cum, std::uint64_t freq, std::uint64_t total) {
    const std::uint64_t r = range / total;
    low += r * cum;
    range = r * freq;
    add_carry_if_any();
    while (range < (std::uint64_t{1} << 48)) {
      out.push_back(static_cast<std::uint8_t>(low >> 48));
      low = (low << 8) & ((std::uint64_t{1} << 56) - 1);
      range <<= 8;
    }
  }
  void finish() {
    // Same choice of final value: window all zero if possible, else one byte.
    const std::uint64_t window = (std::uint64_t{1} << 56) - 1, byte = (std::uint64_t{1} << 48) - 1;
    std::uint64_t value = (low + window) & ~window;
    if (value - low >= range) value = (low + byte) & ~byte;
    low = value;
    add_carry_if_any();
    if ((low >> 48) != 0) out.push_back(static_cast<std::uint8_t>(low >> 48));
  }
};

// Skewed tables push low into long runs of 0xFF, where carries travel far.
TEST(RangeCoder, CarriesMatchExplicitPropagation) {
  std::mt19937_64 rng(4);
  std::size_t carries = 0, carries_through_ff = 0;
  for (std::uint64_t total : {std::uint64_t{1} << 12, std::uint64_t{1} << 31, kMaxTotal}) {
    for (std::size_t symbols : {2, 256, 65536}) {
      if (total < 2 * symbols) continue;
      // One symbol takes almost everything; the others get 1 each.
      const auto big = static_cast<std::uint32_t>(std::min<std::uint64_t>(total - (symbols - 1), 0xFFFFFFFFu));
      std::vector<std::uint32_t> anywhere(symbols, 1);
      anywhere[rng() % symbols] = big;
      std::vector<std::uint32_t> top_heavy(symbols, 1);  // the likely symbol at the top pushes low up
      top_heavy.back() = big;
      std::vector<Table> pool = {Table(anywhere), Table(top_heavy), Table(std::vector<std::uint32_t>(symbols, 1)),
                                 random_table(rng, symbols, total)};
      for (int stream = 0; stream < 20; ++stream) {
        std::vector<const Table*> tables;
        std::vector<std::size_t> symbols_drawn;
        for (int i = 0; i < 5000; ++i) {
          tables.push_back(&pool[rng() % pool.size()]);
          symbols_drawn.push_back(draw(rng, *tables.back()));
        }
        const Coded coded = encode_all(tables, symbols_drawn);
        ReferenceEncoder reference;
        for (std::size_t i = 0; i < tables.size(); ++i)
          reference.encode(tables[i]->cum[symbols_drawn[i]], tables[i]->freq[symbols_drawn[i]], tables[i]->total);
        reference.finish();
        ASSERT_EQ(coded.bytes, reference.out);
        bool overrun = true;
        ASSERT_EQ(decode_all(coded.bytes, tables, &overrun), symbols_drawn);
        ASSERT_FALSE(overrun);
        carries += reference.carries;
        carries_through_ff += reference.carries_through_ff;
      }
    }
  }
  std::printf("  %zu carries, %zu bytes turned from 0xFF to 0x00 by them\n", carries, carries_through_ff);
  EXPECT_GT(carries, 100u);
  EXPECT_GT(carries_through_ff, 10u);
}

// Uniform 8-bit symbols must code to exactly their own bytes' worth.
TEST(RangeCoder, UniformBytesCostEightBitsEach) {
  std::mt19937_64 rng(5);
  std::vector<Table> uniform = {Table(std::vector<std::uint32_t>(256, 1))};
  const Coded coded = round_trip(rng, uniform, 100000);
  EXPECT_GE(coded.bytes.size(), 100000u - 1);
  EXPECT_LE(coded.bytes.size(), 100000u + 2);
}

// Output length against sum(-log2 f/total): under 0.1% plus a few bytes of flush.
TEST(RangeCoder, OverheadAgainstIdealCodeLength) {
  std::mt19937_64 rng(6);
  struct Case {
    const char* name;
    std::size_t symbols;
    std::uint64_t max_total;
    bool skewed;
  };
  const Case cases[] = {
      {"bytes, total 2^16", 256, 1 << 16, false},      {"bytes, total ~2^32", 256, kMaxTotal, false},
      {"64k tokens, total ~2^32", 65536, kMaxTotal, false}, {"binary, skewed", 2, kMaxTotal, true},
      {"bytes, skewed, 2^32", 256, kMaxTotal, true},   {"64k tokens, skewed", 65536, kMaxTotal, true},
  };
  for (const Case& c : cases) {
    std::vector<Table> pool;
    for (int i = 0; i < 16; ++i) {
      if (c.skewed) {
        // One symbol with probability ~0.9 to ~0.9999, the rest share what is left.
        std::vector<std::uint32_t> freq(c.symbols, 1);
        const double rest = std::pow(10.0, -1.0 - 3.0 * (rng() % 1000) / 1000.0);
        const auto spare = static_cast<double>(c.max_total - c.symbols);
        for (auto& f : freq) f = static_cast<std::uint32_t>(1 + spare * rest / c.symbols * 0.999);
        freq[rng() % c.symbols] = static_cast<std::uint32_t>(spare * (1 - rest) * 0.999);
        pool.push_back(Table(freq));
      } else {
        pool.push_back(random_table(rng, c.symbols, c.max_total));
      }
    }
    const std::size_t count = 200000;
    const Coded coded = round_trip(rng, pool, count);
    const double actual = 8.0 * coded.bytes.size();
    const double overhead = actual - coded.ideal_bits;
    std::printf("  %-26s %7zu symbols: ideal %11.1f bits, coded %9zu bytes, overhead %+7.1f bits (%+.5f%%)\n",
                c.name, count, coded.ideal_bits, coded.bytes.size(), overhead, 100.0 * overhead / coded.ideal_bits);
    EXPECT_LE(actual, coded.ideal_bits * 1.001 + 8 * 8) << c.name;
    // Nothing codes below its information content, less the implicit zero bytes' rounding.
    EXPECT_GE(actual, coded.ideal_bits - 16) << c.name;
  }
}

// Decoding is only as good as its input: wrong symbols are fine, but no crash,
// no read out of bounds (run under ASan to see it), targets always in range.
TEST(RangeCoder, GarbageInputIsSafe) {
  std::mt19937_64 rng(7);
  std::vector<Table> pool = {random_table(rng, 65536, kMaxTotal), random_table(rng, 2, kMaxTotal), Table({1, 1}),
                             Table({1, 0xFFFFFFFFu}), Table(std::vector<std::uint32_t>(256, 1))};
  for (std::size_t size : {0, 1, 2, 6, 7, 8, 100, 5000}) {
    for (int pattern = 0; pattern < 4; ++pattern) {
      // Exactly-sized heap buffers, so a read past the end is an ASan error.
      std::vector<std::uint8_t> garbage(size);
      for (auto& b : garbage)
        b = pattern == 0 ? 0xFF : pattern == 1 ? 0x00 : static_cast<std::uint8_t>(rng());
      RangeDecoder decoder(garbage.data(), garbage.size());
      for (int i = 0; i < 20000; ++i) {
        const Table& t = pool[rng() % pool.size()];
        const std::uint64_t target = decoder.target(t.total);
        ASSERT_LT(target, t.total);
        const std::size_t s = find_symbol(t.cum.data(), t.freq.size(), target);
        ASSERT_LT(s, t.freq.size());
        decoder.consume(t.cum[s], t.freq[s]);
      }
      // 20000 symbols need far more bytes than these inputs have.
      EXPECT_TRUE(decoder.overrun()) << "size " << size;
    }
  }
}

TEST(RangeCoder, TruncatedStreamOverrunsOrDecodesWrong) {
  std::mt19937_64 rng(8);
  const Table t(std::vector<std::uint32_t>(256, 1));
  std::vector<const Table*> tables(5000, &t);
  std::vector<std::size_t> symbols;
  for (std::size_t i = 0; i < tables.size(); ++i) symbols.push_back(draw(rng, t));
  const Coded coded = encode_all(tables, symbols);
  for (std::size_t cut : {std::size_t{1}, std::size_t{8}, std::size_t{100}, coded.bytes.size()}) {
    std::vector<std::uint8_t> truncated(coded.bytes.begin(), coded.bytes.end() - cut);
    bool overrun = false;
    const auto decoded = decode_all(truncated, tables, &overrun);
    if (cut >= 8) {
      EXPECT_TRUE(overrun) << "cut " << cut;  // losing 8 or more bytes is noticed
    } else {
      // A lost final byte only reaches the symbols whose window holds it.
      EXPECT_TRUE(std::equal(decoded.begin(), decoded.end() - 8, symbols.begin()));
    }
  }
  // Decoding more symbols than were coded also runs past the end.
  std::vector<const Table*> longer(tables.size() + 16, &t);
  bool overrun = false;
  decode_all(coded.bytes, longer, &overrun);
  EXPECT_TRUE(overrun);
}

TEST(RangeCoder, RejectsInvalidArguments) {
  std::vector<std::uint8_t> out;
  RangeEncoder encoder(out);
  EXPECT_THROW(encoder.encode(0, 0, 10), std::invalid_argument);                 // zero frequency
  EXPECT_THROW(encoder.encode(5, 6, 10), std::invalid_argument);                 // past the total
  EXPECT_THROW(encoder.encode(0, 1, kMaxTotal + 1), std::invalid_argument);      // total too large
  EXPECT_THROW(encoder.encode(~std::uint64_t{0}, 2, 10), std::invalid_argument);  // cum + freq wraps
  encoder.encode(3, 4, 10);
  encoder.finish();
  EXPECT_THROW(encoder.encode(0, 1, 2), std::logic_error);

  RangeDecoder decoder(out.data(), out.size());
  EXPECT_THROW(decoder.target(0), std::invalid_argument);
  decoder.target(10);  // asking twice is harmless
  const std::uint64_t target = decoder.target(10);
  EXPECT_GE(target, 3u);
  EXPECT_LT(target, 7u);
  EXPECT_THROW(decoder.consume(0, 3), std::logic_error);  // does not hold the target
  decoder.consume(3, 4);
}

TEST(FrequencyTables, CumulativeFrequenciesAndFindSymbol) {
  const std::uint32_t freq[] = {3, 1, 4, 1, 5};
  std::uint64_t cum[6];
  EXPECT_EQ(cumulative_frequencies(freq, 5, cum), 14u);
  EXPECT_EQ(std::vector<std::uint64_t>(cum, cum + 6), (std::vector<std::uint64_t>{0, 3, 4, 8, 9, 14}));
  const std::size_t expected[14] = {0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4, 4, 4, 4};
  for (std::uint64_t target = 0; target < 14; ++target) EXPECT_EQ(find_symbol(cum, 5, target), expected[target]);
  EXPECT_EQ(find_symbol(cum, 5, 14), 4u);  // out of range: clamped to a valid symbol
  EXPECT_EQ(find_symbol(cum, 5, ~std::uint64_t{0}), 4u);

  // Totals above 2^32 are reported, not wrapped (the coder then rejects them).
  const std::uint32_t big[] = {0xFFFFFFFFu, 0xFFFFFFFFu};
  std::uint64_t big_cum[3];
  EXPECT_EQ(cumulative_frequencies(big, 2, big_cum), 2 * std::uint64_t{0xFFFFFFFFu});

  // Exhaustive check against a linear scan on a random 1000-symbol table.
  std::mt19937_64 rng(9);
  std::vector<std::uint32_t> f(1000);
  for (auto& x : f) x = static_cast<std::uint32_t>(rng() % 20 + 1);
  std::vector<std::uint64_t> c(f.size() + 1);
  const std::uint64_t total = cumulative_frequencies(f.data(), f.size(), c.data());
  std::size_t s = 0;
  for (std::uint64_t target = 0; target < total; ++target) {
    while (target >= c[s + 1]) ++s;
    ASSERT_EQ(find_symbol(c.data(), f.size(), target), s);
  }
}

TEST(FrequencyTables, IdealBits) {
  EXPECT_DOUBLE_EQ(ideal_bits(1, 2), 1.0);
  EXPECT_DOUBLE_EQ(ideal_bits(1, 256), 8.0);
  EXPECT_DOUBLE_EQ(ideal_bits(5, 5), 0.0);
  EXPECT_NEAR(ideal_bits(1, kMaxTotal), 32.0, 1e-12);
  EXPECT_NEAR(ideal_bits(3, 4), 0.415037499, 1e-9);
}

}  // namespace
}  // namespace lmzip

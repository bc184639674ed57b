// What the model tests share: text-like symbols, the reference network's
// tables as a hash, and a check of a predictor's coding
// interface (model/predictor.h) against the tables of the step it just took.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "coder/range_coder.h"
#include "hash/sha256.h"
#include "model/network.h"
#include "model/predictor.h"

namespace lmzip::testing {

inline std::vector<std::uint32_t> test_symbols(std::size_t n, std::uint32_t seed, std::uint32_t vocab) {
  // Text-like: a repeating phrase with noise, so attention has something to find.
  const std::string phrase = "the quick brown fox jumps over the lazy dog; ";
  std::mt19937 rng(seed);
  std::vector<std::uint32_t> s(n);
  for (std::size_t i = 0; i < n; ++i)
    s[i] = (rng() % 8 == 0) ? rng() % vocab : static_cast<std::uint8_t>(phrase[(i + seed) % phrase.size()]) % vocab;
  return s;
}

// Hash of the tables the reference gives for BOS + symbols (all but the last fed).
inline std::string reference_hash(const ModelFile& m, const std::vector<std::uint32_t>& symbols) {
  ReferenceNetwork net(m);
  std::vector<std::uint32_t> f(m.config.vocab_size);
  Sha256 h;
  net.step(m.config.vocab_size, f.data());
  h.update(f.data(), f.size() * 4);
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
    net.step(symbols[i], f.data());
    h.update(f.data(), f.size() * 4);
  }
  return to_hex(h.finish());
}

// `predictor` has just advanced (or stepped) `rows` streams whose tables are
// tables[r * V .. (r + 1) * V). Asks ranges of random symbols, one and three
// a row, and the symbols of random targets (and of each table's first and last target).
inline void expect_coding_matches_tables(Predictor& predictor, const std::uint32_t* tables, std::size_t rows,
                                         std::mt19937& rng) {
  const std::uint32_t V = predictor.vocab_size();
  std::vector<std::vector<std::uint64_t>> cum(rows, std::vector<std::uint64_t>(V + 1));
  for (std::size_t r = 0; r < rows; ++r) cumulative_frequencies(tables + r * V, V, cum[r].data());

  std::vector<std::uint32_t> symbols(rows);
  for (auto& s : symbols) s = rng() % V;
  symbols[0] = 0;
  if (rows > 1) symbols[rows - 1] = V - 1;
  std::vector<SymbolRange> got(rows);
  predictor.ranges_of(symbols.data(), got.data());
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint32_t s = symbols[r];
    ASSERT_EQ(got[r].symbol, s) << "row " << r;
    ASSERT_EQ(got[r].below, cum[r][s]) << "row " << r << " symbol " << s;
    ASSERT_EQ(got[r].freq, tables[r * V + s]) << "row " << r << " symbol " << s;
    ASSERT_EQ(got[r].total, cum[r][V]) << "row " << r;
  }

  constexpr std::size_t kPerRow = 3;
  std::vector<std::uint32_t> many(rows * kPerRow);
  for (auto& s : many) s = rng() % V;
  std::vector<SymbolRange> got_many(rows * kPerRow);
  predictor.ranges_of_many(many.data(), kPerRow, got_many.data());
  for (std::size_t k = 0; k < rows * kPerRow; ++k) {
    const std::size_t r = k / kPerRow;
    const std::uint32_t s = many[k];
    ASSERT_EQ(got_many[k].symbol, s) << "row " << r;
    ASSERT_EQ(got_many[k].below, cum[r][s]) << "row " << r << " symbol " << s;
    ASSERT_EQ(got_many[k].freq, tables[r * V + s]) << "row " << r << " symbol " << s;
    ASSERT_EQ(got_many[k].total, cum[r][V]) << "row " << r;
  }

  std::vector<std::uint64_t> targets(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint32_t kind = rng() % 4;
    const std::uint64_t total = cum[r][V];
    targets[r] = kind == 0 ? 0 : kind == 1 ? total - 1 : (std::uint64_t{rng()} << 20 ^ rng()) % total;
  }
  predictor.find(targets.data(), got.data());
  for (std::size_t r = 0; r < rows; ++r) {
    const auto s = static_cast<std::uint32_t>(find_symbol(cum[r].data(), V, targets[r]));
    ASSERT_EQ(got[r].symbol, s) << "row " << r << " target " << targets[r];
    ASSERT_EQ(got[r].below, cum[r][s]) << "row " << r;
    ASSERT_EQ(got[r].freq, tables[r * V + s]) << "row " << r;
    ASSERT_EQ(got[r].total, cum[r][V]) << "row " << r;
  }
}

}  // namespace lmzip::testing

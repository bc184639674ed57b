#include "coder/bit_coder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace lmzip {
namespace {

TEST(BitCoder, RoundTripsBitsAtTheirIdealCost) {
  std::mt19937 rng(7);
  std::vector<int> bits;
  std::vector<BitProbability> probs;
  double ideal = 0;
  for (int i = 0; i < 20000; ++i) {
    const BitProbability p = clamp_probability(static_cast<std::int64_t>(rng() % 70000) - 2000);
    const int bit = static_cast<int>(rng() % kBitOne) < static_cast<int>(p);
    bits.push_back(bit);
    probs.push_back(p);
    ideal -= std::log2((bit ? p : kBitOne - p) / 65536.0);
  }
  std::vector<std::uint8_t> out;
  BitEncoder enc(out);
  for (std::size_t i = 0; i < bits.size(); ++i) enc.encode(bits[i], probs[i]);
  enc.encode_plain(0x2A5, 10);
  enc.finish();
  EXPECT_LT(out.size() * 8.0, ideal * 1.001 + 10 + 64);
  BitDecoder dec(out.data(), out.size());
  for (std::size_t i = 0; i < bits.size(); ++i) ASSERT_EQ(dec.decode(probs[i]), bits[i]) << i;
  EXPECT_EQ(dec.decode_plain(10), 0x2A5u);
  EXPECT_FALSE(dec.overrun());
}

TEST(BitCoder, ProbabilitiesAreClampedToCodableValues) {
  EXPECT_EQ(clamp_probability(-5), 1u);
  EXPECT_EQ(clamp_probability(0), 1u);
  EXPECT_EQ(clamp_probability(70000), kBitOne - 1);
  EXPECT_EQ(clamp_probability(1234), 1234u);
}

}  // namespace
}  // namespace lmzip

#include "coder/context_mixing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace lmzip {
namespace {

std::vector<std::uint8_t> round_trip(const std::vector<std::uint8_t>& data) {
  const std::vector<std::uint8_t> payload = context_mixing_encode(data.data(), data.size());
  std::vector<std::uint8_t> back(data.size(), 0xA5);
  std::string why;
  EXPECT_TRUE(context_mixing_decode(payload.data(), payload.size(), back.data(), back.size(), &why)) << why;
  EXPECT_EQ(back, data);
  return payload;
}

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

// Code-like bytes: instructions with E8 calls to a few functions, so the x86
// transform is chosen and repeats the absolute targets.
std::vector<std::uint8_t> x86_like(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v;
  const std::uint32_t targets[4] = {0x100, 0x2340, 0x5000, 0x7777};
  while (v.size() + 5 <= n) {
    if (rng() % 3 == 0) {
      const std::uint32_t at = static_cast<std::uint32_t>(v.size());
      const std::uint32_t rel = targets[rng() % 4] - (at + 5);
      v.push_back(0xE8);
      for (int k = 0; k < 4; ++k) v.push_back(static_cast<std::uint8_t>(rel >> (8 * k)));
    } else {
      static const std::uint8_t ops[][3] = {{0x48, 0x89, 0xC7}, {0x8B, 0x45, 0xF8}, {0x31, 0xC0, 0x90}};
      const auto& op = ops[rng() % 3];
      v.insert(v.end(), op, op + 3);
    }
  }
  while (v.size() < n) v.push_back(0xC3);
  return v;
}

TEST(ContextMixing, RoundTripsSmallInputs) {
  for (std::size_t n : {1, 2, 3, 7, 8, 9, 100}) {
    std::vector<std::uint8_t> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(i * 37 + 11);
    round_trip(data);
  }
  round_trip({0x00});
  round_trip({0xFF});
  round_trip({0xE8, 0, 0, 0, 0});
}

TEST(ContextMixing, ZerosShrinkToAlmostNothing) {
  const std::vector<std::uint8_t> zeros(1 << 14, 0);
  EXPECT_LT(round_trip(zeros).size(), 200u);
}

TEST(ContextMixing, RandomDataStaysNearEightBitsPerByte) {
  const std::vector<std::uint8_t> data = random_bytes(10000, 1);
  const std::size_t payload = round_trip(data).size();
  EXPECT_LT(payload, data.size() + data.size() / 100 + 16) << payload;  // within 1%: the mixers learn that nothing predicts
}

TEST(ContextMixing, TextCompresses) {
  std::string text;
  const char* words[] = {"the ", "coder ", "mixes ", "contexts ", "of ", "binary ", "data ", "and ", "text.\n"};
  std::mt19937 rng(3);
  while (text.size() < 20000) text += words[rng() % 9];
  const std::vector<std::uint8_t> data(text.begin(), text.end());
  EXPECT_LT(round_trip(data).size() * 4, data.size());
}

TEST(ContextMixing, X86CallsRoundTripAndCompress) {
  const std::vector<std::uint8_t> data = x86_like(12000, 5);
  const std::vector<std::uint8_t> payload = round_trip(data);
  EXPECT_EQ(payload[1] & 1, 1);  // the transform was chosen
  EXPECT_LT(payload.size() * 6, data.size());
  // E8/E9 with displacements of every top byte, at the end of the buffer too.
  std::vector<std::uint8_t> edges = random_bytes(2000, 9);
  for (std::size_t i = 0; i < edges.size(); i += 7) edges[i] = (i & 8) ? 0xE8 : 0xE9;
  for (std::size_t i = 4; i < edges.size(); i += 14) edges[i] = (i & 16) ? 0xFF : 0x00;
  edges.insert(edges.end(), {0xE8, 0xFF, 0xFF, 0xFF});
  round_trip(edges);
  std::vector<std::uint8_t> mixed = x86_like(6000, 6);
  mixed.insert(mixed.end(), edges.begin(), edges.end());
  round_trip(mixed);
  // Overlapping candidates: opcodes and 00/FF bytes close together, where a
  // rejected E8 and a transformed one share bytes.
  for (unsigned seed = 20; seed < 22; ++seed) {
    std::vector<std::uint8_t> dense = x86_like(3000, seed);
    std::mt19937 rng(seed);
    const std::uint8_t alphabet[] = {0xE8, 0xE9, 0x00, 0xFF, 0x01, 0x80};
    for (int i = 0; i < 1500; ++i) dense.push_back(alphabet[rng() % 6]);
    EXPECT_EQ(round_trip(dense)[1] & 1, 1);
  }
  // E8 at i is rejected (its top byte is FE); the E8 at i + 1 would turn that
  // byte into FF, which the inverse would take for a call at i.
  std::vector<std::uint8_t> overlap = x86_like(3000, 30);
  const std::uint32_t j = static_cast<std::uint32_t>(overlap.size()) + 1;
  const std::uint32_t v = 0xFF0000u - j;
  overlap.insert(overlap.end(), {0xE8, 0xE8, static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
                                 static_cast<std::uint8_t>(v >> 16), 0x00, 0x90, 0x90});
  EXPECT_EQ(round_trip(overlap)[1] & 1, 1);
}

TEST(ContextMixing, RecordsCompress) {
  // 24-byte records: a counter, a constant tag and slowly changing fields.
  std::vector<std::uint8_t> data;
  for (std::uint32_t r = 0; data.size() < 16000; ++r) {
    for (int k = 0; k < 4; ++k) data.push_back(static_cast<std::uint8_t>(r >> (8 * k)));
    const char tag[] = "REC:";
    data.insert(data.end(), tag, tag + 4);
    for (int k = 0; k < 16; ++k) data.push_back(static_cast<std::uint8_t>((r / (k + 1)) * (k + 3)));
  }
  EXPECT_LT(round_trip(data).size() * 5, data.size());
}

TEST(ContextMixing, PayloadIsDeterministic) {
  const std::vector<std::uint8_t> data = x86_like(5000, 8);
  EXPECT_EQ(context_mixing_encode(data.data(), data.size()), context_mixing_encode(data.data(), data.size()));
}

TEST(ContextMixing, RejectsBadArguments) {
  const std::uint8_t byte = 1;
  EXPECT_THROW(context_mixing_encode(&byte, 0), std::invalid_argument);
  EXPECT_THROW(context_mixing_encode(&byte, kContextMixingMaxBytes + 1), std::invalid_argument);
  std::uint8_t out[4];
  std::string why;
  const std::uint8_t header[] = {1, 0, 0, 0};
  EXPECT_FALSE(context_mixing_decode(header, 4, out, 0, &why));
  EXPECT_FALSE(context_mixing_decode(header, 1, out, 4, &why));
  const std::uint8_t bad_version[] = {9, 0, 0, 0};
  EXPECT_FALSE(context_mixing_decode(bad_version, 4, out, 4, &why));
  EXPECT_NE(why.find("version"), std::string::npos);
  const std::uint8_t bad_flags[] = {1, 4, 0, 0};
  EXPECT_FALSE(context_mixing_decode(bad_flags, 4, out, 4, &why));
  EXPECT_NE(why.find("flags"), std::string::npos);
}

// A network that knows the data: byte i is a hash of i (nothing context
// mixing's contexts can learn), given 4000 of 4255 parts; a seed changes it.
class KnowingNetwork final : public BytePredictions {
 public:
  explicit KnowingNetwork(std::uint32_t seed) : seed_(seed) {}
  static std::uint8_t byte_at(std::uint32_t i, std::uint32_t seed) {
    std::uint32_t h = (i + seed) * 0x9E3779B1u;
    h ^= h >> 15;
    return static_cast<std::uint8_t>(h * 0x85EBCA77u >> 24);
  }
  void reset() override { at_ = 0; }
  void step(std::uint32_t symbol, std::uint32_t* freqs) override {
    EXPECT_EQ(symbol == 256, at_ == 0);
    for (int s = 0; s < 256; ++s) freqs[s] = 1;
    freqs[byte_at(at_++, seed_)] = 4000;
  }

 private:
  std::uint32_t seed_;
  std::uint32_t at_ = 0;
};

std::vector<std::uint8_t> known_bytes(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = KnowingNetwork::byte_at(static_cast<std::uint32_t>(i), seed);
  return v;
}

// The network's predictions reach the coder: bytes it knows cost a fraction
// of what they cost without it, and decode with it.
TEST(ContextMixing, NetworkPredictionsAreMixedIn) {
  const std::vector<std::uint8_t> data = known_bytes(20000, 1);
  KnowingNetwork network(1);
  const std::vector<std::uint8_t> with = context_mixing_encode(data.data(), data.size(), &network);
  const std::vector<std::uint8_t> without = context_mixing_encode(data.data(), data.size());
  EXPECT_GT(without.size(), data.size() * 9 / 10);  // random to context mixing alone
  EXPECT_LT(with.size() * 4, without.size());
  std::vector<std::uint8_t> back(data.size());
  std::string why;
  KnowingNetwork decoder_network(1);
  ASSERT_TRUE(context_mixing_decode(with.data(), with.size(), back.data(), back.size(), &why, &decoder_network)) << why;
  EXPECT_EQ(back, data);
  // The same encoder state each time: a reset network codes alike.
  EXPECT_EQ(context_mixing_encode(data.data(), data.size(), &network), with);
}

// A payload decodes only as it was coded: with a network or without; another
// network gives other bytes (the container's CRC then rejects the frame).
TEST(ContextMixing, NetworkPayloadNeedsItsNetwork) {
  const std::vector<std::uint8_t> data = known_bytes(3000, 2);
  KnowingNetwork network(2);
  const std::vector<std::uint8_t> with = context_mixing_encode(data.data(), data.size(), &network);
  const std::vector<std::uint8_t> without = context_mixing_encode(data.data(), data.size());
  std::vector<std::uint8_t> back(data.size());
  std::string why;
  EXPECT_FALSE(context_mixing_decode(with.data(), with.size(), back.data(), back.size(), &why));
  EXPECT_NE(why.find("with a network"), std::string::npos) << why;
  EXPECT_FALSE(context_mixing_decode(without.data(), without.size(), back.data(), back.size(), &why, &network));
  EXPECT_NE(why.find("without a network"), std::string::npos) << why;
  KnowingNetwork other(3);
  context_mixing_decode(with.data(), with.size(), back.data(), back.size(), &why, &other);
  EXPECT_NE(back, data);
}

TEST(ContextMixing, MemoryGrowsWithInputAndStaysBounded) {
  EXPECT_LT(context_mixing_bytes(1), std::uint64_t{16} << 20);
  EXPECT_LE(context_mixing_bytes(1000), context_mixing_bytes(1 << 20));
  EXPECT_LT(context_mixing_bytes(kContextMixingMaxBytes), std::uint64_t{1} << 30);
}

// Every truncation and many byte flips decode to false, or to exactly the
// requested size, without crashing or reading out of bounds.
TEST(ContextMixing, TruncatedAndCorruptPayloadsFailCleanly) {
  std::vector<std::uint8_t> data = x86_like(300, 11);
  const std::vector<std::uint8_t> text = random_bytes(100, 12);
  data.insert(data.end(), text.begin(), text.end());
  const std::vector<std::uint8_t> payload = context_mixing_encode(data.data(), data.size());
  std::vector<std::uint8_t> out(data.size());
  std::string why;
  for (std::size_t len = 0; len < payload.size(); ++len) {
    const std::vector<std::uint8_t> cut(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(len));
    if (context_mixing_decode(cut.data(), cut.size(), out.data(), out.size(), &why))
      EXPECT_EQ(out.size(), data.size());  // a few final bytes may be implicit zeros
    else
      EXPECT_FALSE(why.empty());
  }
  std::mt19937 rng(13);
  for (int t = 0; t < 40; ++t) {
    std::vector<std::uint8_t> bad = payload;
    bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    context_mixing_decode(bad.data(), bad.size(), out.data(), out.size(), &why);
  }
  // Garbage that claims a large output ends as soon as it runs out.
  const std::vector<std::uint8_t> junk = random_bytes(64, 14);
  std::vector<std::uint8_t> big(1 << 20);
  std::vector<std::uint8_t> junk_payload = {1, 0};
  junk_payload.insert(junk_payload.end(), junk.begin(), junk.end());
  EXPECT_FALSE(context_mixing_decode(junk_payload.data(), junk_payload.size(), big.data(), big.size(), &why));
}

}  // namespace
}  // namespace lmzip

// LZMA2 coder: round trips of sizes from 1 byte to 1 MiB, and rejection of
// every payload that is not exactly one stream of the declared size.
#include "coder/lzma2_coder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lmzip {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes b(size);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

Bytes text_bytes(std::size_t size) {
  const std::string line = "It was the best of times, it was the worst of times, it was the age of wisdom.\n";
  Bytes b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(line[i % line.size()] + (i / 997) % 3);
  return b;
}

// Decodes payload as a chunk of `original_size` bytes; the reason when it fails.
std::string decode_problem(const Bytes& payload, std::size_t original_size, Bytes* out = nullptr) {
  Bytes decoded(original_size);
  std::string why;
  const bool ok = lzma2_decode(payload.data(), payload.size(), decoded.data(), original_size, &why);
  if (out != nullptr) *out = decoded;
  EXPECT_EQ(ok, why.empty());
  return ok ? "" : why;
}

Bytes encoded(const Bytes& data) { return lzma2_encode(data.data(), data.size()); }

TEST(Lzma2Coder, DictionaryFollowsTheChunkSize) {
  EXPECT_EQ(lzma2_dict_size(1), 4096u);
  EXPECT_EQ(lzma2_dict_size(4096), 4096u);
  EXPECT_EQ(lzma2_dict_size(4097), 8192u);
  EXPECT_EQ(lzma2_dict_size(1000000), 1u << 20);
  EXPECT_EQ(lzma2_dict_size(kLzma2MaxBytes), kLzma2MaxBytes);
  // The decoder's memory is the dictionary and a little more (engine.cpp counts on 20 MiB).
  EXPECT_LE(lzma2_decoder_bytes(kLzma2MaxBytes), 20u << 20);
  EXPECT_GE(lzma2_decoder_bytes(kLzma2MaxBytes), kLzma2MaxBytes);
}

TEST(Lzma2Coder, RoundTripsWhatItShrinks) {
  for (std::size_t size : {1, 2, 100, 4096, 4097, 65536, 200000, 1 << 20}) {
    for (const Bytes& data : {Bytes(size, 0), text_bytes(size)}) {
      const Bytes payload = encoded(data);
      if (size < 16) {
        EXPECT_TRUE(payload.empty()) << size;  // the stream's headers outgrow a few bytes
        continue;
      }
      ASSERT_FALSE(payload.empty()) << size;
      if (size >= 4096) {
        EXPECT_LT(payload.size(), size / 4) << size;
      }
      Bytes out;
      EXPECT_EQ(decode_problem(payload, size, &out), "") << size;
      EXPECT_EQ(out, data) << size;
    }
  }
}

TEST(Lzma2Coder, DoesNotKeepAStreamThatWouldNotShrink) {
  for (std::size_t size : {1, 1000, 1 << 20}) EXPECT_TRUE(encoded(random_bytes(size, 3)).empty()) << size;
}

TEST(Lzma2Coder, RoundTripsMostlyRandomData) {
  // Random data with one repeated stretch: LZMA2 shrinks it a little.
  Bytes data = random_bytes(300000, 4);
  std::copy(data.begin(), data.begin() + 100000, data.begin() + 200000);
  const Bytes payload = encoded(data);
  ASSERT_FALSE(payload.empty());
  Bytes out;
  EXPECT_EQ(decode_problem(payload, data.size(), &out), "");
  EXPECT_EQ(out, data);
}

TEST(Lzma2Coder, RejectsTruncatedPayloads) {
  const Bytes data = text_bytes(100000);
  const Bytes payload = encoded(data);
  for (std::size_t keep : {std::size_t{0}, std::size_t{1}, payload.size() / 2, payload.size() - 1}) {
    const Bytes cut(payload.begin(), payload.begin() + keep);
    EXPECT_NE(decode_problem(cut, data.size()), "") << keep;
  }
}

TEST(Lzma2Coder, RejectsCorruptPayloads) {
  const Bytes data = text_bytes(100000);
  const Bytes payload = encoded(data);
  std::mt19937 rng(9);
  int rejected = 0;
  for (int trial = 0; trial < 50; ++trial) {
    Bytes bad = payload;
    bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    Bytes out;
    const std::string why = decode_problem(bad, data.size(), &out);
    if (!why.empty()) {
      ++rejected;
    } else {
      EXPECT_NE(out, data);  // a change LZMA2 cannot see still changes the bytes (the frame CRC catches it)
    }
  }
  EXPECT_GT(rejected, 25);
  // A control byte LZMA2 does not define.
  Bytes bad = payload;
  bad[0] = 0x03;
  EXPECT_EQ(decode_problem(bad, data.size()), "its LZMA2 stream is corrupt");
}

TEST(Lzma2Coder, RejectsAStreamOfAnotherSize) {
  const Bytes data = text_bytes(100000);
  const Bytes payload = encoded(data);
  EXPECT_EQ(decode_problem(payload, data.size() - 1), "its LZMA2 stream decodes to more bytes than declared");
  EXPECT_EQ(decode_problem(payload, data.size() + 1), "its LZMA2 stream decodes to fewer bytes than declared");
  EXPECT_EQ(decode_problem(payload, 1), "its LZMA2 stream decodes to more bytes than declared");
}

TEST(Lzma2Coder, RejectsBytesAfterTheStream) {
  const Bytes data = text_bytes(100000);
  Bytes payload = encoded(data);
  payload.push_back(0);  // another end marker
  EXPECT_EQ(decode_problem(payload, data.size()), "bytes follow the end of its LZMA2 stream");
  payload.back() = 0x5A;
  EXPECT_EQ(decode_problem(payload, data.size()), "bytes follow the end of its LZMA2 stream");
}

}  // namespace
}  // namespace lmzip

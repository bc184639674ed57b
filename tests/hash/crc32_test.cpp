// CRC-32/ISO-HDLC check values (as zlib.crc32 computes them) and chaining.
#include "hash/crc32.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lmzip {
namespace {

std::uint32_t crc_of(const std::string& s) { return crc32(s.data(), s.size()); }

TEST(Crc32, CheckValues) {
  EXPECT_EQ(crc_of("123456789"), 0xCBF43926u);  // the catalogue's check value
  EXPECT_EQ(crc_of(""), 0u);
  EXPECT_EQ(crc_of("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  std::vector<std::uint8_t> pattern(1000);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<std::uint8_t>(i * 7 + 3);
  EXPECT_EQ(crc32(pattern.data(), pattern.size()), 0x17BC2A46u);  // python3 zlib.crc32
}

TEST(Crc32, ChainsAtEverySplit) {
  const std::string text = "lmzip frames carry the CRC-32 of their original bytes.";
  const std::uint32_t whole = crc_of(text);
  for (std::size_t split = 0; split <= text.size(); ++split) {
    const std::uint32_t head = crc32(text.data(), split);
    ASSERT_EQ(crc32(text.data() + split, text.size() - split, head), whole) << "split at " << split;
  }
  EXPECT_EQ(crc32(nullptr, 0, whole), whole);
}

TEST(Crc32, DetectsSingleBitFlips) {
  std::string text = "123456789";
  for (std::size_t byte = 0; byte < text.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = text;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      ASSERT_NE(crc_of(flipped), 0xCBF43926u);
    }
  }
}

}  // namespace
}  // namespace lmzip

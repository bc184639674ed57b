#include "media/media_detect.h"

#include <gtest/gtest.h>

#include <string>

namespace lmzip {
namespace {

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
void append(std::vector<std::uint8_t>& v, std::size_t n, std::uint8_t b = 7) { v.insert(v.end(), n, b); }
void le(std::vector<std::uint8_t>& v, std::uint32_t x, int n) {
  for (int i = 0; i < n; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void be(std::vector<std::uint8_t>& v, std::uint32_t x, int n) {
  for (int i = n - 1; i >= 0; --i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

std::vector<std::uint8_t> wav(std::uint32_t channels, std::uint32_t bits, std::uint32_t frames, bool extensible = false) {
  std::vector<std::uint8_t> v = bytes("RIFF");
  le(v, 0, 4);
  for (char c : std::string("WAVE")) v.push_back(c);
  for (char c : std::string("LIST")) v.push_back(c);
  le(v, 3, 4);
  append(v, 4, 0);  // 3 bytes and the pad byte
  for (char c : std::string("fmt ")) v.push_back(c);
  le(v, extensible ? 40 : 16, 4);
  le(v, extensible ? 0xFFFE : 1, 2);
  le(v, channels, 2);
  le(v, 44100, 4);
  le(v, 44100 * channels * bits / 8, 4);
  le(v, channels * bits / 8, 2);
  le(v, bits, 2);
  if (extensible) {
    le(v, 22, 2);
    le(v, bits, 2);
    le(v, 0, 4);
    le(v, 1, 2);  // KSDATAFORMAT_SUBTYPE_PCM's first field
    append(v, 14, 0);
  }
  for (char c : std::string("data")) v.push_back(c);
  le(v, frames * channels * bits / 8, 4);
  append(v, std::size_t{frames} * channels * bits / 8);
  return v;
}

TEST(FindMedia, PgmAndPpmAfterOtherBytesWithComments) {
  std::vector<std::uint8_t> v = bytes("some text before\n");
  const std::size_t header = v.size();
  for (char c : std::string("P6\n# a comment\n64 32\n255\n")) v.push_back(c);
  const std::size_t pixels = v.size();
  append(v, 64 * 32 * 3);
  append(v, 10, 'x');
  const auto regions = find_media(v.data(), v.size());
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].kind, MediaKind::Image);
  EXPECT_EQ(regions[0].offset, pixels);
  EXPECT_GT(pixels, header);
  EXPECT_EQ(regions[0].size, 64u * 32 * 3);
  EXPECT_EQ(regions[0].image.width, 64u);
  EXPECT_EQ(regions[0].image.height, 32u);
  EXPECT_EQ(regions[0].image.channels, 3u);
  EXPECT_EQ(regions[0].image.row_bytes, 192u);
}

TEST(FindMedia, SixteenBitPgmTruncatedToTheRowsPresent) {
  std::vector<std::uint8_t> v = bytes("P5 100 50 4095\n");
  append(v, 100 * 2 * 20 + 7);  // 20 rows and a part
  const auto regions = find_media(v.data(), v.size());
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].image.bytes_per_sample, 2u);
  EXPECT_TRUE(regions[0].image.big_endian);
  EXPECT_EQ(regions[0].image.height, 20u);
  EXPECT_EQ(regions[0].size, 4000u);
}

TEST(FindMedia, MalformedHeadersAreNotImages) {
  for (const char* h : {"P5 0 10 255\n", "P5 10 10 0\n", "P5 10 10 70000\n", "P610 10 255\n",
                               "P5 10 10 255", "P7 10 10 255\n", "P5 10x 10 255\n"}) {
    std::vector<std::uint8_t> v = bytes(h);
    append(v, 5000);
    EXPECT_TRUE(find_media(v.data(), v.size()).empty()) << h;
  }
}

TEST(FindMedia, SmallImagesStayWithTheBytesAroundThem) {
  std::vector<std::uint8_t> v = bytes("P5 10 10 255\n");
  append(v, 100);
  EXPECT_TRUE(find_media(v.data(), v.size()).empty());
}

TEST(FindMedia, BmpBottomUpWithRowPadding) {
  std::vector<std::uint8_t> v = bytes("BM");
  const std::uint32_t width = 33, height = 20, row = (33 * 3 + 3) & ~3u;
  le(v, 54 + row * height, 4);
  le(v, 0, 4);
  le(v, 54, 4);
  le(v, 40, 4);
  le(v, width, 4);
  le(v, height, 4);
  le(v, 1, 2);
  le(v, 24, 2);
  le(v, 0, 4);
  append(v, 20, 0);
  append(v, std::size_t{row} * height);
  const auto regions = find_media(v.data(), v.size());
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].offset, 54u);
  EXPECT_EQ(regions[0].image.row_bytes, 100u);
  EXPECT_EQ(regions[0].image.channels, 3u);
  EXPECT_EQ(regions[0].size, 100u * 20);
}

TEST(FindMedia, WavPcmAndExtensibleSkippingOtherChunks) {
  for (bool extensible : {false, true}) {
    const auto v = wav(2, 16, 1000, extensible);
    const auto regions = find_media(v.data(), v.size());
    ASSERT_EQ(regions.size(), 1u) << extensible;
    EXPECT_EQ(regions[0].kind, MediaKind::Audio);
    EXPECT_EQ(regions[0].offset, v.size() - 4000);
    EXPECT_EQ(regions[0].audio.channels, 2u);
    EXPECT_EQ(regions[0].audio.bytes_per_sample, 2u);
    EXPECT_FALSE(regions[0].audio.big_endian);
    EXPECT_FALSE(regions[0].audio.is_unsigned);
    EXPECT_EQ(regions[0].audio.frames, 1000u);
  }
  const auto eight = wav(1, 8, 3000);
  const auto regions = find_media(eight.data(), eight.size());
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_TRUE(regions[0].audio.is_unsigned);
}

TEST(FindMedia, WavWithOddTrailingBytesAndATruncatedDataChunk) {
  auto v = wav(2, 24, 1000);
  v.resize(v.size() - 1000);  // the data chunk claims more than is here
  const auto regions = find_media(v.data(), v.size());
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].audio.frames, (6000u - 1000u) / 6u);
  EXPECT_EQ(regions[0].size % 6, 0u);
}

TEST(FindMedia, AiffBigEndianAndAifcSowt) {
  for (bool sowt : {false, true}) {
    std::vector<std::uint8_t> v = bytes("FORM");
    be(v, 0, 4);
    for (char c : std::string(sowt ? "AIFC" : "AIFF")) v.push_back(c);
    for (char c : std::string("COMM")) v.push_back(c);
    be(v, sowt ? 24 : 18, 4);
    be(v, 1, 2);
    be(v, 2000, 4);
    be(v, 16, 2);
    append(v, 10, 0);  // sample rate
    if (sowt) {
      for (char c : std::string("sowt")) v.push_back(c);
      be(v, 0, 2);
    }
    for (char c : std::string("SSND")) v.push_back(c);
    be(v, 8 + 4000, 4);
    be(v, 0, 4);
    be(v, 0, 4);
    append(v, 4000);
    const auto regions = find_media(v.data(), v.size());
    ASSERT_EQ(regions.size(), 1u) << sowt;
    EXPECT_EQ(regions[0].audio.big_endian, !sowt);
    EXPECT_EQ(regions[0].audio.frames, 2000u);
    EXPECT_EQ(regions[0].offset, v.size() - 4000);
  }
}

TEST(FindMedia, TwoImagesInOneBufferAndNoneInNoise) {
  std::vector<std::uint8_t> v = bytes("P5 64 64 255\n");
  append(v, 4096);
  for (char c : std::string("P5 32 64 255\n")) v.push_back(c);
  append(v, 2048);
  const auto regions = find_media(v.data(), v.size());
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[1].image.width, 32u);
  std::vector<std::uint8_t> noise(100000);
  std::uint32_t x = 1;
  for (auto& b : noise) b = static_cast<std::uint8_t>((x = x * 1103515245u + 12345u) >> 24);
  // Whatever it finds must lie inside the buffer and not overlap.
  std::size_t end = 0;
  for (const MediaRegion& r : find_media(noise.data(), noise.size())) {
    EXPECT_GE(r.offset, end);
    end = r.offset + r.size;
    EXPECT_LE(end, noise.size());
  }
}

// An image cut by the end of one buffer goes on at the next row boundary of
// the next buffer, and on across buffers shorter than a row.
TEST(FindMedia, AnImageCutByTheBufferEndGoesOnInTheNext) {
  std::vector<std::uint8_t> v = bytes("P5 1000 300 255\n");
  const std::size_t header = v.size();
  append(v, 1000 * 300);
  MediaCarry carry;
  const std::size_t first = header + 1000 * 100 + 250;  // 100 rows and a quarter
  auto regions = find_media(v.data(), first, &carry);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].image.height, 100u);
  EXPECT_EQ(carry.units_left, 199u);
  EXPECT_EQ(carry.skip, 750u);
  const std::size_t second = 500;  // shorter than the rest of the cut row
  EXPECT_TRUE(find_media(v.data() + first, second, &carry).empty());
  EXPECT_EQ(carry.skip, 250u);
  regions = find_media(v.data() + first + second, v.size() - first - second, &carry);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].offset, 250u);
  EXPECT_EQ(regions[0].image.height, 199u);
  EXPECT_EQ(regions[0].image.width, 1000u);
  EXPECT_EQ(carry.units_left, 0u);
  // Without a carry, the rest is not an image.
  EXPECT_TRUE(find_media(v.data() + first + second, v.size() - first - second).empty());
}

}  // namespace
}  // namespace lmzip

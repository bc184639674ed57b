// SHA-256 against the FIPS 180-4 / NIST example vectors, streaming splits, and hex.
#include "hash/sha256.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace lmzip {
namespace {

std::string hex_of(const std::string& message) { return to_hex(sha256(message.data(), message.size())); }

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 448 bits: the padding no longer fits in the same block.
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 896 bits.
  EXPECT_EQ(hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                   "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, MillionA) {
  const std::string chunk(1000, 'a');
  Sha256 hasher;
  for (int i = 0; i < 1000; ++i) hasher.update(chunk.data(), chunk.size());
  EXPECT_EQ(to_hex(hasher.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the 55/56/64 byte padding boundaries (digests from coreutils sha256sum).
TEST(Sha256, PaddingBoundaries) {
  EXPECT_EQ(hex_of(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(hex_of(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(hex_of(std::string(63, 'a')), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
  EXPECT_EQ(hex_of(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  EXPECT_EQ(hex_of(std::string(65, 'a')), "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0");
  EXPECT_EQ(hex_of(std::string(119, 'a')), "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb");
  EXPECT_EQ(hex_of(std::string(120, 'a')), "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c");
}

// Feeding the same bytes in two or three pieces, at every split, gives the one-shot digest.
TEST(Sha256, AnySplitMatchesOneShot) {
  std::vector<std::uint8_t> message(200);
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::uint8_t>(i * 131 + 7);
  const Sha256Digest expected = sha256(message.data(), message.size());
  for (std::size_t first = 0; first <= message.size(); ++first) {
    Sha256 hasher;
    hasher.update(message.data(), first);
    hasher.update(message.data() + first, message.size() - first);
    ASSERT_EQ(hasher.finish(), expected) << "split at " << first;
  }
  for (std::size_t first = 0; first <= message.size(); first += 7) {
    for (std::size_t second = first; second <= message.size(); second += 5) {
      Sha256 hasher;
      hasher.update(message.data(), first);
      hasher.update(message.data() + first, second - first);
      hasher.update(nullptr, 0);
      hasher.update(message.data() + second, message.size() - second);
      ASSERT_EQ(hasher.finish(), expected) << "splits at " << first << ", " << second;
    }
  }
}

TEST(Sha256, HexRoundTrips) {
  const Sha256Digest d = sha256("abc", 3);
  Sha256Digest back{};
  ASSERT_TRUE(digest_from_hex(to_hex(d), &back));
  EXPECT_EQ(back, d);
  std::string upper = to_hex(d);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(digest_from_hex(upper, &back));
  EXPECT_EQ(back, d);
  EXPECT_FALSE(digest_from_hex(to_hex(d).substr(2), &back));      // too short
  EXPECT_FALSE(digest_from_hex(to_hex(d) + "00", &back));         // too long
  EXPECT_FALSE(digest_from_hex("x" + to_hex(d).substr(1), &back));  // not a hex digit
}

TEST(Sha256, DifferentInputsDiffer) {
  EXPECT_NE(hex_of("abc"), hex_of("abd"));
  EXPECT_NE(hex_of(std::string(1, '\0')), hex_of(""));
}

TEST(ToHex, LowercaseTwoDigitsPerByte) {
  const std::uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(to_hex(bytes, sizeof bytes), "000fa0ff");
  EXPECT_EQ(to_hex(bytes, 0), "");
}

}  // namespace
}  // namespace lmzip

#include "coder/deflate_streams.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "coder/context_mixing.h"
#include "../common/zlib_streams.h"

namespace lmzip {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Words in a random order: text that deflate shrinks about threefold.
Bytes words(std::size_t size, unsigned seed) {
  static const char* const kWords[] = {"stream ", "endobj ", "0 0 1 rg ", "BT /F1 12 Tf ", "(Hello) Tj ",
                                       "ET\n",    "q 1 0 0 1 72 720 cm ", "Q\n", "re f ", "1.5 w "};
  std::mt19937 rng(seed);
  Bytes out;
  while (out.size() < size) {
    const std::string w = kWords[rng() % std::size(kWords)];
    out.insert(out.end(), w.begin(), w.end());
    if (rng() % 7 == 0) out.push_back(static_cast<std::uint8_t>('0' + rng() % 10));
  }
  out.resize(size);
  return out;
}

Bytes random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

Bytes deflated(const Bytes& in, int level, int window_bits, int mem_level = 8, int strategy = Z_DEFAULT_STRATEGY) {
  return testing::deflated(in.data(), in.size(), level, window_bits, mem_level, strategy);
}
using testing::zip_entry;

void append(Bytes& to, const Bytes& b) { to.insert(to.end(), b.begin(), b.end()); }

// Rebuilds `in` from what inflate_streams made of it; the streams found.
std::vector<DeflateStream> check_round_trip(const Bytes& in) {
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
  Bytes back(in.size());
  std::string why;
  if (inflated.streams.empty()) return {};
  EXPECT_TRUE(deflate_streams(inflated.bytes.data(), inflated.bytes.size(), inflated.streams, back.data(), back.size(),
                              &why))
      << why;
  EXPECT_EQ(back, in);
  return inflated.streams;
}

TEST(DeflateStreams, ZlibGzipAndZipStreamsAmongOtherBytesRoundTrip) {
  const Bytes a = words(20000, 1), b = words(15000, 2), c = words(9000, 3);
  Bytes in = random_bytes(300, 4);
  const std::size_t zlib_at = in.size() + 2;
  append(in, deflated(a, 9, 15));
  append(in, random_bytes(100, 5));
  const std::size_t gzip_at = in.size() + 10;
  append(in, deflated(b, 6, 31));
  append(in, random_bytes(50, 6));
  const std::size_t zip_at = in.size() + 35;
  append(in, zip_entry(deflated(c, 1, -15)));
  append(in, random_bytes(70, 7));
  const std::vector<DeflateStream> streams = check_round_trip(in);
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_EQ(streams[0].offset, zlib_at);
  EXPECT_EQ(streams[0].level, 9);
  EXPECT_EQ(streams[0].inflated_size, a.size());
  EXPECT_EQ(streams[1].offset, gzip_at);
  EXPECT_EQ(streams[1].level, 6);
  EXPECT_EQ(streams[2].offset, zip_at);
  EXPECT_EQ(streams[2].level, 1);
  EXPECT_EQ(streams[2].inflated_size, c.size());
}

TEST(DeflateStreams, EveryLevelAndMemLevelIsReproduced) {
  for (int mem : {8, 9})
    for (int level = 1; level <= 9; ++level) {
      // Long enough for several blocks, so levels and memLevels differ.
      Bytes in = random_bytes(10, 1);
      append(in, deflated(words(60000, level), level, 15, mem));
      const std::vector<DeflateStream> streams = check_round_trip(in);
      ASSERT_EQ(streams.size(), 1u) << "level " << level << " memLevel " << mem;
      // Another level or memLevel may make the same deflate data: any that does is right.
      EXPECT_EQ(streams[0].offset, 12u);
      EXPECT_EQ(deflated(words(60000, level), streams[0].level, -15, streams[0].mem_level),
                Bytes(in.begin() + 12, in.end() - 4));
    }
}

// More parameter sets in one buffer than the deflate states kept for reuse,
// some used again after others were dropped.
TEST(DeflateStreams, ManyParametersInOneBufferRoundTrip) {
  const int levels[] = {1, 2, 3, 4, 5, 2, 3, 6, 1, 9, 2, 7};
  Bytes in;
  for (int i = 0; i < 12; ++i) {
    append(in, random_bytes(20, i));
    append(in, deflated(words(5000, i), levels[i], 15, 8 + i / 6));
  }
  const std::vector<DeflateStream> streams = check_round_trip(in);
  ASSERT_EQ(streams.size(), 12u);
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
  const Bytes payload = inflated_context_mixing_encode(inflated);
  Bytes back(in.size());
  std::string why;
  ASSERT_TRUE(inflated_context_mixing_decode(payload.data(), payload.size(), back.data(), back.size(), &why)) << why;
  EXPECT_EQ(back, in);
}

TEST(DeflateStreams, SmallWindowsAreReproduced) {
  Bytes in = deflated(words(30000, 8), 6, 10);
  const std::vector<DeflateStream> streams = check_round_trip(in);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].window_bits, 10);
}

TEST(DeflateStreams, StreamsNoParametersReproduceStayBytes) {
  // Z_FILTERED and Z_HUFFMAN_ONLY streams are not default-strategy output;
  // stored blocks (level 0) do not shrink.
  const Bytes data = words(40000, 9);
  for (int strategy : {Z_FILTERED, Z_HUFFMAN_ONLY}) {
    Bytes in = random_bytes(100, 2);
    append(in, deflated(data, 6, 15, 8, strategy));
    EXPECT_TRUE(check_round_trip(in).empty()) << "strategy " << strategy;
    const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
    EXPECT_TRUE(inflated_context_mixing_encode(inflated).empty());
  }
  Bytes in = deflated(data, 0, 15);
  EXPECT_TRUE(check_round_trip(in).empty());
  // Beside a reproduced one it stays bytes and round-trips.
  append(in, deflated(data, 9, 15));
  EXPECT_EQ(check_round_trip(in).size(), 1u);
}

TEST(DeflateStreams, InflatedBytesStayWithinTheLimit) {
  const Bytes data = words(50000, 3);
  Bytes in = deflated(data, 9, 15);
  append(in, deflated(data, 9, 15));
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), 70000);
  ASSERT_EQ(inflated.streams.size(), 1u);
  EXPECT_LE(inflated.bytes.size(), 70000u);
  EXPECT_TRUE(inflate_streams(in.data(), in.size(), 1000).streams.empty());
}

TEST(DeflateStreams, RandomDataWithZlibHeadersCostsLittle) {
  // One in 2,000 positions of random data passes the zlib header check.
  const Bytes in = random_bytes(4 << 20, 5);
  const auto start = std::chrono::steady_clock::now();
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(inflated.streams.empty());
  EXPECT_LT(seconds, 2.0);
}

TEST(DeflateStreams, PayloadRoundTrips) {
  Bytes in = words(3000, 1);
  append(in, deflated(words(30000, 2), 9, 15));
  append(in, words(2000, 3));
  append(in, zip_entry(deflated(words(20000, 4), 6, -15)));
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
  ASSERT_EQ(inflated.streams.size(), 2u);
  const Bytes payload = inflated_context_mixing_encode(inflated);
  ASSERT_FALSE(payload.empty());
  EXPECT_LT(payload.size() * 4, context_mixing_encode(in.data(), in.size()).size() * 3);
  InflatedHeader header;
  std::string why;
  ASSERT_TRUE(read_inflated_header(payload.data(), payload.size(), in.size(), &header, &why)) << why;
  EXPECT_EQ(header.inflated_size, inflated.bytes.size());
  Bytes back(in.size());
  ASSERT_TRUE(inflated_context_mixing_decode(payload.data(), payload.size(), back.data(), back.size(), &why)) << why;
  EXPECT_EQ(back, in);
}

// The payload of one 200-byte zlib stream at offset 10 of a 300-byte chunk,
// its table written from the fields given.
Bytes payload_of(std::vector<std::uint32_t> varints_and_bytes) {
  Bytes p;
  for (std::uint32_t v : varints_and_bytes) {
    do {
      p.push_back(static_cast<std::uint8_t>((v & 0x7F) | (v > 0x7F ? 0x80 : 0)));
      v >>= 7;
    } while (v);
  }
  p.insert(p.end(), {1, 0, 0, 0, 0});  // context-mixing bytes (garbage)
  return p;
}

TEST(DeflateStreams, HostileHeadersAreRefused) {
  InflatedHeader h;
  std::string why;
  auto refused = [&](const Bytes& p, std::size_t original) {
    why.clear();
    const bool ok = read_inflated_header(p.data(), p.size(), original, &h, &why);
    return !ok && !why.empty();
  };
  //                 version count gap comp infl level mem window size
  EXPECT_FALSE(refused(payload_of({1, 1, 10, 200, 500, 9, 8, 15, 600}), 300)) << why;
  EXPECT_TRUE(refused(payload_of({2, 1, 10, 200, 500, 9, 8, 15, 600}), 300));            // version
  EXPECT_TRUE(refused(payload_of({1, 0, 600}), 300));                                    // no streams
  EXPECT_TRUE(refused(payload_of({1, 5, 10, 200, 500, 9, 8, 15, 600}), 300));            // more streams than fit
  EXPECT_TRUE(refused(payload_of({1, 1, 200, 200, 500, 9, 8, 15, 600}), 300));           // beyond the chunk
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 63, 500, 9, 8, 15, 600}), 300));             // too short a stream
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 0, 9, 8, 15, 600}), 300));              // empty stream
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 500, 10, 8, 15, 600}), 300));           // level
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 500, 0, 8, 15, 600}), 300));            // level
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 500, 9, 10, 15, 600}), 300));           // memLevel
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 500, 9, 8, 16, 600}), 300));           // window
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 500, 9, 8, 8, 600}), 300));             // window
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 500, 9, 8, 15, 601}), 300));            // size does not add up
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, 17u << 20, 9, 8, 15, (17u << 20) + 100}), 300));  // over 16 MiB
  EXPECT_TRUE(refused(payload_of({1, 1, 10, 200, UINT32_MAX, 9, 8, 15, 100}), 300));    // overflow
  EXPECT_TRUE(refused(payload_of({1, 1, UINT32_MAX, 200, 500, 9, 8, 15, 600}), 300));    // overflow
  Bytes no_coded_bytes = payload_of({1, 1, 10, 200, 500, 9, 8, 15, 600});
  no_coded_bytes.resize(no_coded_bytes.size() - 5);
  EXPECT_TRUE(refused(no_coded_bytes, 300));
  const Bytes good = payload_of({1, 1, 10, 200, 500, 9, 8, 15, 600});
  for (std::size_t cut = 0; cut < good.size() - 5; ++cut)
    EXPECT_TRUE(refused(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)), 300)) << cut;
  Bytes long_varint = {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  EXPECT_TRUE(refused(long_varint, 300));
}

TEST(DeflateStreams, CorruptPayloadsFailCleanly) {
  Bytes in = words(200, 1);
  append(in, deflated(words(4000, 2), 9, 15));
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
  const Bytes payload = inflated_context_mixing_encode(inflated);
  ASSERT_FALSE(payload.empty());
  Bytes out(in.size());
  std::string why;
  // A cut among the range coder's last bytes may still decode (to bytes
  // whose deflate has the recorded lengths): the frame CRC checks the bytes.
  for (std::size_t cut = 0; cut < payload.size(); cut += 1 + cut / 2) {
    why.clear();
    if (!inflated_context_mixing_decode(payload.data(), cut, out.data(), out.size(), &why))
      EXPECT_FALSE(why.empty()) << cut;
    else
      EXPECT_GE(cut + 8, payload.size());
  }
  EXPECT_FALSE(inflated_context_mixing_decode(payload.data(), payload.size(), out.data(), out.size() - 1, &why));
  std::mt19937 rng(3);
  for (int i = 0; i < 20; ++i) {
    Bytes bad = payload;
    bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    if (inflated_context_mixing_decode(bad.data(), bad.size(), out.data(), out.size(), &why)) continue;
    EXPECT_FALSE(why.empty());
  }
}

TEST(DeflateStreams, TablesThatDoNotMatchTheBytesAreRefused) {
  const Bytes data = words(20000, 6);
  Bytes in = deflated(data, 6, 15);
  const InflatedBuffer inflated = inflate_streams(in.data(), in.size(), kContextMixingMaxBytes);
  ASSERT_EQ(inflated.streams.size(), 1u);
  Bytes out(in.size());
  std::string why;
  auto rebuilds = [&](const std::vector<DeflateStream>& streams, std::size_t out_size) {
    return deflate_streams(inflated.bytes.data(), inflated.bytes.size(), streams, out.data(), out_size, &why);
  };
  ASSERT_TRUE(rebuilds(inflated.streams, out.size())) << why;
  std::vector<DeflateStream> s = inflated.streams;
  s[0].level = 1;  // deflates to another length
  EXPECT_FALSE(rebuilds(s, out.size()));
  s = inflated.streams;
  s[0].compressed_size -= 1;
  EXPECT_FALSE(rebuilds(s, out.size() - 1));
  s = inflated.streams;
  s[0].compressed_size += 1;
  EXPECT_FALSE(rebuilds(s, out.size()));
  s = inflated.streams;
  s[0].inflated_size += 1;
  EXPECT_FALSE(rebuilds(s, out.size()));
  s = inflated.streams;
  s.push_back(s[0]);  // a second stream over the first
  EXPECT_FALSE(rebuilds(s, out.size()));
  EXPECT_FALSE(rebuilds(inflated.streams, out.size() - 1));
}

}  // namespace
}  // namespace lmzip

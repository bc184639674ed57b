// The audio codec: lossless round trips over every layout it accepts and over
// extreme signals, compression of a predictable signal, and robustness of the
// decoder against truncated, corrupted and mislabelled payloads.
#include "media/audio_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmzip {
namespace {

// A small deterministic generator (xorshift), so failures reproduce.
struct Rng {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  std::uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<std::uint32_t>(s >> 11);
  }
};

// Stores signed sample v in the layout's byte format.
void put(std::vector<std::uint8_t>& bytes, const AudioLayout& l, std::int64_t v) {
  const int n = static_cast<int>(l.bytes_per_sample);
  const std::int64_t half = std::int64_t{1} << (8 * n - 1);
  std::uint32_t raw = static_cast<std::uint32_t>(l.is_unsigned ? v + half : v);
  for (int i = 0; i < n; ++i) {
    const int shift = 8 * (l.big_endian ? n - 1 - i : i);
    bytes.push_back(static_cast<std::uint8_t>(raw >> shift));
  }
}

// Samples of a layout from gen(frame, channel), clamped to its range.
template <class Gen>
std::vector<std::uint8_t> make(const AudioLayout& l, Gen gen) {
  const std::int64_t half = std::int64_t{1} << (8 * l.bytes_per_sample - 1);
  std::vector<std::uint8_t> bytes;
  for (std::uint64_t t = 0; t < l.frames; ++t) {
    for (std::uint32_t c = 0; c < l.channels; ++c) {
      std::int64_t v = gen(t, c);
      v = v < -half ? -half : (v > half - 1 ? half - 1 : v);
      put(bytes, l, v);
    }
  }
  return bytes;
}

AudioLayout layout(std::uint32_t channels, std::uint32_t bps, std::uint64_t frames, bool big = false,
                   bool is_unsigned = false) {
  AudioLayout l;
  l.channels = channels;
  l.bytes_per_sample = bps;
  l.frames = frames;
  l.big_endian = big;
  l.is_unsigned = is_unsigned;
  return l;
}

// Encodes, decodes and compares; returns the payload size.
std::size_t round_trip(const AudioLayout& l, const std::vector<std::uint8_t>& bytes, bool twice = false) {
  EXPECT_EQ(bytes.size(), audio_bytes(l));
  const std::vector<std::uint8_t> payload = encode_audio(l, bytes.data());
  if (twice) {
    EXPECT_EQ(payload, encode_audio(l, bytes.data())) << "encoding is deterministic";
  }
  std::vector<std::uint8_t> back(bytes.size(), 0xCD);
  std::string why;
  EXPECT_TRUE(decode_audio(payload.data(), payload.size(), back.data(), back.size(), &why)) << why;
  EXPECT_EQ(back, bytes);
  AudioLayout peeked;
  EXPECT_TRUE(peek_audio_layout(payload.data(), payload.size(), &peeked));
  EXPECT_EQ(peeked.channels, l.channels);
  EXPECT_EQ(peeked.bytes_per_sample, l.bytes_per_sample);
  EXPECT_EQ(peeked.big_endian, l.big_endian);
  EXPECT_EQ(peeked.is_unsigned, l.is_unsigned);
  EXPECT_EQ(peeked.frames, l.frames);
  return payload.size();
}

std::int64_t sine(std::uint64_t t, std::int64_t amplitude, std::int64_t period) {
  // Integer parabola approximation of a sine: exact and portable test data.
  const std::int64_t x = static_cast<std::int64_t>(t % static_cast<std::uint64_t>(period));
  const std::int64_t h = period / 2;
  const std::int64_t y = x < h ? x : x - h;
  const std::int64_t v = 4 * amplitude * y * (h - y) / (h * h);
  return x < h ? v : -v;
}

TEST(AudioCodec, RoundTripsSignalsOfEveryLayout) {
  Rng rng;
  for (std::uint32_t bps = 1; bps <= 3; ++bps) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool big = variant & 1;
      const bool uns = (variant & 2) != 0;
      for (std::uint32_t channels : {1u, 2u, 3u, 8u}) {
        const AudioLayout l = layout(channels, bps, 200, big, uns);
        const std::int64_t full = std::int64_t{1} << (8 * bps - 1);
        SCOPED_TRACE("bps " + std::to_string(bps) + " big " + std::to_string(big) + " unsigned " +
                     std::to_string(uns) + " channels " + std::to_string(channels));
        round_trip(l, make(l, [&](std::uint64_t t, std::uint32_t c) {
                     return sine(t, full / 2, 37 + 5 * c) + static_cast<std::int64_t>(rng.next() % 64) - 32;
                   }));
        round_trip(l, make(l, [&](std::uint64_t, std::uint32_t) {  // full-scale noise
                     return static_cast<std::int64_t>(rng.next() % (2 * full)) - full;
                   }));
      }
    }
  }
}

TEST(AudioCodec, RoundTripsExtremeSignals) {
  const AudioLayout l = layout(2, 2, 3000);
  // Silence, DC at both rails, clipping square waves, alternating extremes.
  const std::size_t silent = round_trip(l, make(l, [](std::uint64_t, std::uint32_t) { return 0; }), true);
  EXPECT_LT(silent, 200u);
  round_trip(l, make(l, [](std::uint64_t, std::uint32_t c) { return c ? 32767 : -32768; }));
  round_trip(l, make(l, [](std::uint64_t t, std::uint32_t) { return (t / 50) % 2 ? 32767 : -32768; }));
  round_trip(l, make(l, [](std::uint64_t t, std::uint32_t) { return t % 2 ? 32767 : -32768; }));
  round_trip(l, make(l, [](std::uint64_t t, std::uint32_t) { return sine(t, 60000, 300); }));  // clipped
  // 24-bit extremes and a jump from one rail to the other.
  const AudioLayout l24 = layout(1, 3, 2000, true);
  round_trip(l24, make(l24, [](std::uint64_t t, std::uint32_t) { return t < 1000 ? -8388608 : 8388607; }));
  round_trip(l24, make(l24, [](std::uint64_t t, std::uint32_t) { return t % 3 ? 8388607 : -8388608; }));
}

TEST(AudioCodec, RoundTripsTinyStreams) {
  Rng rng;
  for (std::uint32_t channels = 1; channels <= 8; ++channels) {
    for (std::uint32_t bps = 1; bps <= 3; ++bps) {
      for (std::uint64_t frames : {1u, 2u, 5u}) {
        const AudioLayout l = layout(channels, bps, frames, bps == 3, bps == 1);
        round_trip(l, make(l, [&](std::uint64_t, std::uint32_t) {
                     return static_cast<std::int64_t>(rng.next() % 200000) - 100000;
                   }));
      }
    }
  }
}

TEST(AudioCodec, PredictableSignalCompressesFarBelowRaw) {
  const AudioLayout l = layout(1, 2, 22050);
  Rng rng;
  const std::vector<std::uint8_t> bytes =
      make(l, [&](std::uint64_t t, std::uint32_t) { return sine(t, 12000, 100) + static_cast<std::int64_t>(rng.next() % 3) - 1; });
  const std::size_t size = round_trip(l, bytes);
  EXPECT_LT(size, bytes.size() / 4) << "a near-pure tone with +-1 noise costs a few bits a sample";
  // Stereo with identical channels: the second channel is nearly free.
  const AudioLayout l2 = layout(2, 2, 22050);
  const std::vector<std::uint8_t> dual =
      make(l2, [&](std::uint64_t t, std::uint32_t) { return sine(t, 12000, 100) + static_cast<std::int64_t>((t * 7919) % 5) - 2; });
  const std::size_t dual_size = round_trip(l2, dual);
  const AudioLayout l1 = layout(1, 2, 22050);
  const std::vector<std::uint8_t> mono =
      make(l1, [&](std::uint64_t t, std::uint32_t) { return sine(t, 12000, 100) + static_cast<std::int64_t>((t * 7919) % 5) - 2; });
  EXPECT_LT(dual_size, round_trip(l1, mono) * 13 / 10);
}

TEST(AudioCodec, RefusesInvalidLayouts) {
  std::vector<std::uint8_t> bytes(64, 0);
  for (const AudioLayout& l : {layout(0, 2, 4), layout(9, 2, 4), layout(1, 0, 4), layout(1, 4, 4), layout(1, 2, 0),
                               layout(8, 3, (std::uint64_t{16} << 20) / 24 + 1), layout(1, 2, ~std::uint64_t{0})}) {
    EXPECT_FALSE(valid_audio_layout(l));
    EXPECT_THROW(encode_audio(l, bytes.data()), std::invalid_argument);
  }
  EXPECT_TRUE(valid_audio_layout(layout(8, 2, (std::uint64_t{16} << 20) / 16)));
  EXPECT_EQ(audio_bytes(layout(3, 3, 10)), 90u);
}

TEST(AudioCodec, DecoderRejectsWrongSizesAndHeaders) {
  const AudioLayout l = layout(2, 2, 500);
  Rng rng;
  const std::vector<std::uint8_t> bytes =
      make(l, [&](std::uint64_t t, std::uint32_t) { return sine(t, 9000, 80) + static_cast<std::int64_t>(rng.next() % 100); });
  const std::vector<std::uint8_t> payload = encode_audio(l, bytes.data());
  std::vector<std::uint8_t> out(bytes.size() + 2);
  std::string why;
  EXPECT_FALSE(decode_audio(payload.data(), payload.size(), out.data(), bytes.size() - 2, &why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(decode_audio(payload.data(), payload.size(), out.data(), bytes.size() + 2, &why));
  EXPECT_FALSE(decode_audio(nullptr, 0, out.data(), bytes.size(), &why));
  for (std::uint8_t bad_byte : {std::uint8_t{0}, std::uint8_t{9}}) {  // channels 0 and 9
    std::vector<std::uint8_t> p = payload;
    p[1] = bad_byte;
    EXPECT_FALSE(decode_audio(p.data(), p.size(), out.data(), bytes.size(), &why));
  }
  // The mode byte follows the 2-byte frame count (500 frames): unknown bits,
  // order 0, and channel differences in a mono stream are refused.
  for (std::uint8_t mode : {std::uint8_t{0x40}, std::uint8_t{0x80}, std::uint8_t{0x00}, std::uint8_t{0x18}}) {
    std::vector<std::uint8_t> p = payload;
    p[5] = static_cast<std::uint8_t>((p[5] & ~0x03) | mode);
    if (mode == 0x18) p[5] = 0x19;  // step index 3 does not exist
    EXPECT_FALSE(decode_audio(p.data(), p.size(), out.data(), bytes.size(), &why)) << int{mode};
  }
  {
    const AudioLayout mono = layout(1, 2, 500);
    const std::vector<std::uint8_t> one = make(mono, [](std::uint64_t t, std::uint32_t) { return sine(t, 9000, 80); });
    std::vector<std::uint8_t> p = encode_audio(mono, one.data());
    p[5] |= 0x04;
    EXPECT_FALSE(decode_audio(p.data(), p.size(), out.data(), one.size(), &why));
  }
  std::vector<std::uint8_t> p = payload;
  p[0] ^= 0xFF;  // format identifier
  EXPECT_FALSE(decode_audio(p.data(), p.size(), out.data(), bytes.size(), &why));
  // A frame count that never ends.
  std::vector<std::uint8_t> endless = {payload[0], payload[1], payload[2]};
  endless.resize(40, 0xFF);
  EXPECT_FALSE(decode_audio(endless.data(), endless.size(), out.data(), bytes.size(), &why));
}

TEST(AudioCodec, TruncatedAndCorruptedPayloadsNeverCrash) {
  const AudioLayout l = layout(2, 2, 400);
  Rng rng;
  const std::vector<std::uint8_t> bytes = make(l, [&](std::uint64_t t, std::uint32_t c) {
    return sine(t, 5000, 50 + 3 * c) + static_cast<std::int64_t>(rng.next() % 400) - 200;
  });
  const std::vector<std::uint8_t> payload = encode_audio(l, bytes.data());
  std::vector<std::uint8_t> out(bytes.size());
  std::string why;
  int refused = 0;
  // Every truncation: refused, or (only when the cut removed implied zero bytes)
  // the exact samples.
  for (std::size_t n = 0; n < payload.size(); ++n) {
    std::vector<std::uint8_t> cut(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n));
    if (decode_audio(cut.data(), cut.size(), out.data(), out.size(), &why)) {
      EXPECT_GE(n + 8, payload.size()) << "only the last few bytes can be implied";
    } else {
      EXPECT_FALSE(why.empty());
      ++refused;
    }
  }
  EXPECT_GT(refused, static_cast<int>(payload.size()) - 9);
  // Byte flips and random garbage after a valid header: false or a full
  // output, never a crash (the sanitizer build checks the rest).
  for (std::size_t i = 0; i < payload.size(); i += 1 + payload.size() / 97) {
    for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
      std::vector<std::uint8_t> p = payload;
      p[i] ^= mask;
      decode_audio(p.data(), p.size(), out.data(), out.size(), &why);
    }
  }
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::uint8_t> p(payload.begin(), payload.begin() + 5);
    for (int i = 0; i < 50 + trial * 40; ++i) p.push_back(static_cast<std::uint8_t>(rng.next()));
    decode_audio(p.data(), p.size(), out.data(), out.size(), &why);
  }
}

}  // namespace
}  // namespace lmzip

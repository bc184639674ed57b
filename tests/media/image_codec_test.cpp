// Image codec: exact round trips of every layout kind, compression of a
// smooth image, and payloads that are truncated, corrupted or describe
// another size give false (or an output of exactly the right size), never a
// crash.
#include "media/image_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lmzip {
namespace {

using Bytes = std::vector<std::uint8_t>;

ImageLayout layout_of(std::uint32_t w, std::uint32_t h, std::uint32_t channels, std::uint32_t bps = 1,
                      bool big_endian = true, std::uint32_t padding = 0) {
  ImageLayout l;
  l.width = w;
  l.height = h;
  l.channels = channels;
  l.bytes_per_sample = bps;
  l.big_endian = big_endian;
  l.row_bytes = w * channels * bps + padding;
  return l;
}

// A smooth colour field with a little noise: what photographs look like to the codec.
Bytes smooth_image(const ImageLayout& l, unsigned seed, int noise) {
  std::mt19937 rng(seed);
  Bytes data(image_bytes(l));
  const int maxval = l.bytes_per_sample == 2 ? 65535 : 255;
  for (std::uint32_t y = 0; y < l.height; ++y) {
    for (std::uint32_t x = 0; x < l.width; ++x) {
      for (std::uint32_t c = 0; c < l.channels; ++c) {
        long v = static_cast<long>((x * (3 + c) + y * (5 - c)) * static_cast<std::uint32_t>(maxval) /
                                   (3 * (l.width + l.height)));
        if (noise > 0) v += static_cast<long>(rng() % static_cast<unsigned>(2 * noise + 1)) - noise;
        v = v < 0 ? 0 : v > maxval ? maxval : v;
        std::uint8_t* p = &data[y * l.row_bytes + (x * l.channels + c) * l.bytes_per_sample];
        if (l.bytes_per_sample == 1) {
          p[0] = static_cast<std::uint8_t>(v);
        } else if (l.big_endian) {
          p[0] = static_cast<std::uint8_t>(v >> 8);
          p[1] = static_cast<std::uint8_t>(v);
        } else {
          p[1] = static_cast<std::uint8_t>(v >> 8);
          p[0] = static_cast<std::uint8_t>(v);
        }
      }
    }
    for (std::uint32_t i = l.width * l.channels * l.bytes_per_sample; i < l.row_bytes; ++i)
      data[y * l.row_bytes + i] = static_cast<std::uint8_t>(rng() % 3 == 0 ? rng() : 0);
  }
  return data;
}

Bytes noise_image(const ImageLayout& l, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes data(image_bytes(l));
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  return data;
}

Bytes round_trip(const ImageLayout& l, const Bytes& data) {
  const Bytes payload = encode_image(l, data.data());
  Bytes back(data.size(), 0xAA);
  std::string why;
  EXPECT_TRUE(decode_image(payload.data(), payload.size(), back.data(), back.size(), &why)) << why;
  EXPECT_EQ(back, data);
  return payload;
}

TEST(ImageCodec, RoundTripsEveryLayoutKind) {
  for (std::uint32_t channels = 1; channels <= 4; ++channels) {
    for (std::uint32_t bps = 1; bps <= 2; ++bps) {
      for (bool big : {true, false}) {
        if (bps == 1 && !big) continue;
        for (std::uint32_t padding : {0u, 1u, 3u}) {
          SCOPED_TRACE(testing::Message() << channels << " channels, " << bps << " bytes, big " << big
                                          << ", padding " << padding);
          const ImageLayout l = layout_of(37, 23, channels, bps, big, padding);
          round_trip(l, smooth_image(l, channels * 10 + bps, 3));
          round_trip(l, noise_image(l, channels + 100 * bps));
        }
      }
    }
  }
}

TEST(ImageCodec, RoundTripsDegenerateShapes) {
  for (auto [w, h] : {std::pair{1u, 1u}, {1u, 57u}, {57u, 1u}, {2u, 2u}, {3u, 1u}}) {
    for (std::uint32_t channels : {1u, 3u, 4u}) {
      const ImageLayout l = layout_of(w, h, channels, 1, true, w % 2);
      round_trip(l, noise_image(l, w * 7 + h));
      round_trip(l, smooth_image(l, w + h, 0));
    }
  }
}

TEST(ImageCodec, ExtremeValuesRoundTrip) {
  // Constant black, constant white, and a checkerboard of 0 and the maximum.
  for (std::uint32_t bps = 1; bps <= 2; ++bps) {
    const ImageLayout l = layout_of(64, 48, 3, bps);
    for (int kind = 0; kind < 3; ++kind) {
      Bytes data(image_bytes(l));
      for (std::size_t i = 0; i < data.size(); ++i) {
        const std::size_t px = i / (3 * bps);
        const bool on = kind == 1 || (kind == 2 && ((px % 64) + (px / 64)) % 2 == 0);
        data[i] = on ? 0xFF : 0;
      }
      const Bytes payload = round_trip(l, data);
      if (kind < 2) {
        EXPECT_LT(payload.size(), 100u);  // constant images cost next to nothing
      }
    }
  }
}

TEST(ImageCodec, SmoothImagesCompressWell) {
  const ImageLayout grey = layout_of(256, 192, 1);
  EXPECT_LT(round_trip(grey, smooth_image(grey, 1, 0)).size(), image_bytes(grey) / 10);
  const ImageLayout rgb = layout_of(256, 192, 3);
  EXPECT_LT(round_trip(rgb, smooth_image(rgb, 2, 0)).size(), image_bytes(rgb) / 10);
  // Noise of +-2 costs about log2(5) bits a sample, well below 8.
  EXPECT_LT(round_trip(rgb, smooth_image(rgb, 3, 2)).size(), image_bytes(rgb) * 3 / 8);
  const ImageLayout deep = layout_of(128, 96, 3, 2, false);
  EXPECT_LT(round_trip(deep, smooth_image(deep, 4, 0)).size(), image_bytes(deep) / 10);
}

TEST(ImageCodec, NoiseCostsLittleMoreThanRaw) {
  const ImageLayout l = layout_of(128, 128, 3);
  EXPECT_LT(round_trip(l, noise_image(l, 9)).size(), image_bytes(l) * 103 / 100 + 64);
}

TEST(ImageCodec, RefusesInvalidLayouts) {
  EXPECT_TRUE(valid_image_layout(layout_of(1, 1, 1)));
  EXPECT_FALSE(valid_image_layout(layout_of(0, 5, 1)));
  EXPECT_FALSE(valid_image_layout(layout_of(5, 0, 1)));
  EXPECT_FALSE(valid_image_layout(layout_of(5, 5, 0)));
  EXPECT_FALSE(valid_image_layout(layout_of(5, 5, 5)));
  EXPECT_FALSE(valid_image_layout(layout_of(5, 5, 1, 3)));
  EXPECT_FALSE(valid_image_layout(layout_of((1u << 16) + 1, 1, 1)));
  EXPECT_TRUE(valid_image_layout(layout_of(1u << 16, 1, 1)));
  EXPECT_FALSE(valid_image_layout(layout_of(4096, 4097, 1)));  // just over 16 MiB
  EXPECT_TRUE(valid_image_layout(layout_of(4096, 4096, 1)));
  ImageLayout short_rows = layout_of(10, 10, 3);
  short_rows.row_bytes = 29;
  EXPECT_FALSE(valid_image_layout(short_rows));
  const Bytes data(100);
  EXPECT_THROW(encode_image(layout_of(0, 1, 1), data.data()), std::invalid_argument);
}

TEST(ImageCodec, RejectsBrokenPayloads) {
  const ImageLayout l = layout_of(24, 16, 3, 1, true, 2);
  const Bytes data = smooth_image(l, 5, 4);
  const Bytes payload = encode_image(l, data.data());
  Bytes out(data.size());
  std::string why;
  // Every truncation: false (most) or, if the lost bytes were implicit flush zeros, the exact image.
  for (std::size_t n = 0; n < payload.size(); ++n) {
    why.clear();
    if (decode_image(payload.data(), n, out.data(), out.size(), &why)) {
      EXPECT_EQ(out, data) << n;
    } else {
      EXPECT_FALSE(why.empty()) << n;
    }
  }
  EXPECT_FALSE(decode_image(payload.data(), payload.size(), out.data(), out.size() - 1, &why));
  EXPECT_FALSE(decode_image(payload.data(), payload.size(), nullptr, 0, &why));
  // Byte flips anywhere: never a crash; the output stays its declared size.
  std::mt19937 rng(11);
  for (int t = 0; t < 300; ++t) {
    Bytes bad = payload;
    bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    decode_image(bad.data(), bad.size(), out.data(), out.size(), &why);
  }
  // A header that claims a huge or malformed image is refused before any work.
  Bytes huge = payload;
  huge[5] = huge[6] = huge[7] = huge[8] = 0xFF;  // height 2^32-1
  EXPECT_FALSE(decode_image(huge.data(), huge.size(), out.data(), out.size(), &why));
  Bytes version = payload;
  version[0] = 99;
  EXPECT_FALSE(decode_image(version.data(), version.size(), out.data(), out.size(), &why));
}

TEST(ImageCodec, RandomStreamsNeverCrash) {
  // A valid header over random coded bytes, for every sample kind: false, or
  // an output of exactly the declared size.
  std::mt19937 rng(12);
  for (std::uint32_t channels = 1; channels <= 4; ++channels) {
    for (std::uint32_t bps = 1; bps <= 2; ++bps) {
      const ImageLayout l = layout_of(19, 11, channels, bps, bps == 2, 1);
      Bytes payload = encode_image(l, smooth_image(l, 3, 2).data());
      for (int t = 0; t < 20; ++t) {
        for (std::size_t i = 18; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(rng());
        Bytes out(image_bytes(l));
        std::string why;
        decode_image(payload.data(), payload.size(), out.data(), out.size(), &why);
      }
    }
  }
}

TEST(ImageCodec, EncodingIsDeterministic) {
  const ImageLayout l = layout_of(40, 30, 3);
  const Bytes data = smooth_image(l, 6, 5);
  EXPECT_EQ(encode_image(l, data.data()), encode_image(l, data.data()));
}

}  // namespace
}  // namespace lmzip

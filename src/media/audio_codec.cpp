// Lossless audio codec: integer prediction cascade + adaptive binary residual
// coder. See docs/audio-codec.md for the format and the reasons behind it.
#include "media/audio_codec.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "coder/bit_coder.h"

#if defined(__SSE2__) && !defined(LMZIP_AUDIO_SCALAR)
#include <emmintrin.h>
#endif

namespace lmzip {
namespace {

constexpr std::uint8_t kMagic = 0xA1;  // format identifier and version
// NLMS weight steps for a loud new value (halved at ages 4 and 8), one per
// value of the mode byte's step field: the encoder picks the adaptation speed.
constexpr std::int32_t kSteps[3] = {8, 16, 32};

// ---------------------------------------------------------------------------
// Integer helpers. Right shifts of negative values are arithmetic (implementation
// defined in C++17, defined in C++20; every supported compiler does this).

inline std::int16_t sat16(std::int32_t v) {
  return static_cast<std::int16_t>(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

inline int bit_length(std::uint32_t v) { return v ? 32 - __builtin_clz(v) : 0; }

// Sum of a[i] * b[i] modulo 2^32 (as int32). Modular arithmetic makes the SIMD
// and scalar paths agree bit for bit whatever the values, and avoids signed
// overflow: a wrapped sum only makes a bad prediction, identically on both sides.
inline std::int32_t dot16(const std::int16_t* a, const std::int16_t* b, int n) {
#if defined(__SSE2__) && !defined(LMZIP_AUDIO_SCALAR)
  __m128i s0 = _mm_setzero_si128(), s1 = _mm_setzero_si128();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm_add_epi32(s0, _mm_madd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))));
    s1 = _mm_add_epi32(s1, _mm_madd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8))));
  }
  s0 = _mm_add_epi32(s0, s1);
  s0 = _mm_add_epi32(s0, _mm_shuffle_epi32(s0, 0x4E));
  s0 = _mm_add_epi32(s0, _mm_shuffle_epi32(s0, 0xB1));
  std::uint32_t s = static_cast<std::uint32_t>(_mm_cvtsi128_si32(s0));
  for (; i < n; ++i) s += static_cast<std::uint32_t>(std::int32_t{a[i]} * b[i]);
  return static_cast<std::int32_t>(s);
#else
  std::uint32_t s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<std::uint32_t>(std::int32_t{a[i]} * b[i]);
  return static_cast<std::int32_t>(s);
#endif
}

// w[i] = saturate16(w[i] + d[i]) if dir > 0, saturate16(w[i] - d[i]) if dir < 0.
inline void adapt16(std::int16_t* w, const std::int16_t* d, int n, int dir) {
  if (dir == 0) return;
  int i = 0;
#if defined(__SSE2__) && !defined(LMZIP_AUDIO_SCALAR)
  if (dir > 0) {
    for (; i + 8 <= n; i += 8) {
      __m128i* pw = reinterpret_cast<__m128i*>(w + i);
      _mm_storeu_si128(pw, _mm_adds_epi16(_mm_loadu_si128(pw), _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i))));
    }
  } else {
    for (; i + 8 <= n; i += 8) {
      __m128i* pw = reinterpret_cast<__m128i*>(w + i);
      _mm_storeu_si128(pw, _mm_subs_epi16(_mm_loadu_si128(pw), _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i))));
    }
  }
#endif
  for (; i < n; ++i) w[i] = sat16(dir > 0 ? w[i] + d[i] : w[i] - d[i]);
}

// ---------------------------------------------------------------------------
// Prediction.

// History of one signal for the NLMS filters: the values (saturated to int16
// after a right shift by `scale`) and, per value, the signed step that the
// sign-sign update adds to the weight that multiplies it. The step is larger
// for values that are large against the running mean of |value| (Monkey's
// Audio's rule), so loud transients steer the filter more than quiet noise.
class History {
 public:
  void init(int taps, int scale, std::int32_t step) {
    step_size_ = step;
    taps_ = taps;
    scale_ = scale;
    val_.assign(static_cast<std::size_t>(taps) + kSlack, 0);
    step_.assign(val_.size(), 0);
    pos_ = static_cast<std::size_t>(taps);
    mean_ = 0;
  }
  // The last n <= taps values, oldest first (the newest at [n - 1]).
  const std::int16_t* values(int n) const { return val_.data() + pos_ - n; }
  const std::int16_t* steps(int n) const { return step_.data() + pos_ - n; }
  void push(std::int32_t v) {
    if (pos_ == val_.size()) {
      std::memmove(val_.data(), val_.data() + pos_ - taps_, sizeof(std::int16_t) * taps_);
      std::memmove(step_.data(), step_.data() + pos_ - taps_, sizeof(std::int16_t) * taps_);
      pos_ = static_cast<std::size_t>(taps_);
    }
    const std::int32_t mag = v < 0 ? -v : v;  // |v| < 2^31 (see kMaxBits): no overflow
    std::int32_t step = 0;
    if (mag > std::int64_t{mean_} * 3) step = step_size_;
    else if (mag > (std::int64_t{mean_} * 4) / 3) step = step_size_ / 2;
    else if (mag > 0) step = step_size_ / 4;
    {
      // Older values steer less: halve the step at ages 4 and 8.
      step_[pos_ - 4] = static_cast<std::int16_t>(step_[pos_ - 4] / 2);
      step_[pos_ - 8] = static_cast<std::int16_t>(step_[pos_ - 8] / 2);
    }
    val_[pos_] = sat16(v >> scale_);
    step_[pos_] = static_cast<std::int16_t>(v < 0 ? -step : step);
    ++pos_;
    mean_ += (mag - mean_) / 16;
  }

 private:
  static constexpr std::size_t kSlack = 4096;  // pushes between two moves
  std::vector<std::int16_t> val_, step_;
  std::size_t pos_ = 0;
  int taps_ = 0, scale_ = 0;
  std::int32_t mean_ = 0;
  std::int32_t step_size_ = 16;
};

// A sign-sign NLMS filter over int16 values: prediction = round(w . h / 2^shift).
struct Filter {
  int taps = 0, shift = 0;
  std::vector<std::int16_t> w;
  void init(int t, int s) {
    taps = t;
    shift = s;
    w.assign(static_cast<std::size_t>(t), 0);
  }
};

inline std::int32_t round_shift(std::int64_t dot, int shift) {
  // (dot + half) >> shift in 64 bits: no overflow (|dot| < 2^35).
  return static_cast<std::int32_t>((dot + (std::int64_t{1} << (shift - 1))) >> shift);
}

inline int sign_of(std::int32_t v) { return (v > 0) - (v < 0); }

constexpr int kMinOrder = 1, kMaxOrder = 3;  // stage-1 polynomial orders the encoder tries
constexpr std::uint64_t kTrialFrames = 131072;  // the encoder's trials code at least this many frames
// The NLMS cascade: lengths and weight precisions (bits after the point).
// Stage 0 works on the stage-1 signal (plus kCross taps on the partner
// channel); each later stage on the residual of the one before.
struct StageSpec {
  int taps, shift;
};
constexpr StageSpec kStages[] = {{1024, 17}, {256, 14}, {32, 11}, {16, 11}};
constexpr int kNumStages = sizeof(kStages) / sizeof(kStages[0]);
constexpr int kCross = 16;       // stage-0 taps on the partner channel (its current value for c > 0)
constexpr int kCrossShift = 14;  // their precision: weights up to +-2 copy a near-identical channel
constexpr int kMixShift = 14, kMixStep = 8;  // stage-mix weights: 1.0 = 2^14, sign-sign step
constexpr int kShortTaps0 = 512;  // stage 0's length in "short" mode
static_assert(kCross <= kShortTaps0 && kShortTaps0 <= kStages[0].taps, "the cross taps read the partner's stage-0 history");

// ---------------------------------------------------------------------------
// Residual coding.

// A probability that a bit is 1, adapting fast at first (rate 1/(n+1.5)) and
// then at about 1/256, as count-based states do: the residual statistics are
// nearly stationary once the filters have converged.
struct Bit {
  std::uint16_t p = 32768;
  std::uint16_t n = 0;
};
constexpr int kLimit = 255;
struct RateTable {
  std::int32_t r[kLimit + 1];
  constexpr RateTable() : r() {
    for (int n = 0; n <= kLimit; ++n) r[n] = static_cast<std::int32_t>((65536 * 2) / (2 * n + 3));
  }
};
constexpr RateTable kRate;

inline void update(Bit& b, int bit) {
  const std::int32_t target = bit ? 65535 : 0;
  const std::int32_t p = b.p;
  b.p = static_cast<std::uint16_t>(p + ((std::int64_t{target - p} * kRate.r[b.n]) >> 16));
  if (b.n < kLimit) ++b.n;
}

inline BitProbability prob(const Bit& b) {
  return clamp_probability(std::max<std::int32_t>(32, std::min<std::int32_t>(65536 - 32, b.p)));
}

constexpr int kCtx = 32 * 4;     // contexts from the running mean of |residual|
constexpr int kEscape = 20;      // a bucket index this large escapes to an Elias-gamma code
// Residual magnitudes stay below 2^31: |e0| < 2^27 (24-bit channel differences
// through an order-3 stage 1) plus |pm| < 2^29.1 (saturated weights, wrapped
// sums: 4 x (9 x 2^20 + 2^23 + 2^26 + 2^26)); 5 bits of an escape code carry it.
constexpr int kMaxBits = 31;

struct ResidualModel {
  std::uint32_t mean16 = 0;  // 16 x running mean of |residual| (fast)
  Bit unary[kCtx][kEscape];
  Bit mant1[kCtx][3];
  Bit mant2[kCtx][3][2];
  Bit low[kCtx][kMaxBits];
  Bit sign[3];
  int last_sign = 0;
};

// Encoder and decoder share one coding routine: Io::code(bit, model) codes a
// given bit (encoder) or returns the decoded one (decoder).
struct EncIo {
  BitEncoder* enc;
  int code(int bit, Bit& b) {
    enc->encode(bit, prob(b));
    update(b, bit);
    return bit;
  }
  std::uint32_t plain(std::uint32_t v, int n) {
    enc->encode_plain(v, n);
    return v;
  }
};
struct DecIo {
  BitDecoder* dec;
  int code(int, Bit& b) {
    const int bit = dec->decode(prob(b));
    update(b, bit);
    return bit;
  }
  std::uint32_t plain(std::uint32_t, int n) { return dec->decode_plain(n); }
};

// Codes residual r (encoder) or decodes it (decoder: r ignored). Returns the
// residual, or sets *bad on an impossible code (decoder only).
template <class Io>
std::int32_t code_residual(Io& io, ResidualModel& m, std::int32_t r, bool* bad) {
  const std::uint32_t mean16 = m.mean16;
  const int lg = bit_length(mean16);
  const int ctx = (lg * 4 + (lg >= 3 ? static_cast<int>((mean16 >> (lg - 3)) & 3) : 0));
  const int k = std::max(0, bit_length(mean16 >> 4) - 1);  // bucket width 2^k ~ mean / 2
  std::uint32_t u = static_cast<std::uint32_t>(r < 0 ? -r : r);
  std::uint32_t q = u >> k;
  std::uint32_t value = 0;
  // Bucket: unary with adaptive bits, escape for outliers.
  std::uint32_t j = 0;
  for (; j < kEscape; ++j) {
    if (!io.code(q > j, m.unary[ctx][j])) break;
  }
  if (j == kEscape) {
    // Elias-gamma-like: 5 plain bits of bit length, then the bits below the top.
    int nb = io.plain(static_cast<std::uint32_t>(bit_length(u)), 5);
    if (nb < 1 || nb > kMaxBits) {
      *bad = true;
      return 0;
    }
    value = (1u << (nb - 1)) | io.plain(u & ((1u << (nb - 1)) - 1), nb - 1);
  } else {
    q = j;
    value = q << k;
    const int qc = static_cast<int>(std::min<std::uint32_t>(q, 2));
    int top = 0;
    for (int i = k - 1; i >= 0; --i) {
      const int bit = static_cast<int>((u >> i) & 1);
      int got;
      if (i == k - 1) got = top = io.code(bit, m.mant1[ctx][qc]);
      else if (i == k - 2) got = io.code(bit, m.mant2[ctx][qc][top]);
      else got = io.code(bit, m.low[ctx][i]);
      value |= static_cast<std::uint32_t>(got) << i;
    }
  }
  std::int32_t out = static_cast<std::int32_t>(value);
  if (value != 0) {
    const int s = io.code(r < 0, m.sign[m.last_sign + 1]);
    if (s) out = -out;
    m.last_sign = s ? -1 : 1;
  } else {
    m.last_sign = 0;
  }
  const std::uint32_t mag = std::min<std::uint32_t>(value, 1u << 24);
  m.mean16 = m.mean16 + mag - (m.mean16 >> 4);

  return out;
}

// ---------------------------------------------------------------------------
// One channel's state. The stage-1 history of the partner channel (the one
// before it, or channel 1 for channel 0) feeds the long filter's cross taps.

struct Channel {
  std::int32_t x1 = 0, x2 = 0, x3 = 0;  // the previous three samples
  History h[kNumStages];                // inputs of the cascade's filters
  Filter f[kNumStages];
  Filter fx;                            // cross taps of stage 0
  std::int32_t m[kNumStages];           // stage-mix weights
  ResidualModel model;
};

class Codec {
 public:
  Codec(const AudioLayout& layout, int order, std::int32_t step, bool short0)
      : layout_(layout), ch_(layout.channels), order_(order) {
    for (int i = 0; i < kNumStages; ++i) taps_[i] = kStages[i].taps;
    if (short0) taps_[0] = kShortTaps0;
    // 24-bit samples enter the int16 histories shifted right by 6 bits.
    scale_ = layout.bytes_per_sample == 3 ? 6 : 0;
    for (auto& c : ch_) {
      for (int i = 0; i < kNumStages; ++i) {
        c.h[i].init(taps_[i], scale_, step);
        c.f[i].init(taps_[i], kStages[i].shift);
      }
      c.fx.init(kCross, kCrossShift);
      for (auto& m : c.m) m = 1 << kMixShift;
    }
    partner_.resize(ch_.size());
    for (std::size_t i = 0; i < ch_.size(); ++i) partner_[i] = ch_.size() == 1 ? -1 : (i == 0 ? 1 : static_cast<int>(i) - 1);
  }

  // Codes sample v of channel c (encoder), or decodes one (decoder). Returns
  // the sample; *bad set when a decoded residual is impossible.
  template <class Io>
  std::int32_t code(Io& io, int c, std::int32_t v, bool* bad) {
    Channel& s = ch_[static_cast<std::size_t>(c)];
    // Stage 1: a fixed polynomial prediction, its order chosen per stream.
    std::int32_t base;
    if (order_ == 1) base = (s.x1 * 31) >> 5;
    else if (order_ == 2) base = 2 * s.x1 - s.x2;
    else base = 3 * (s.x1 - s.x2) + s.x3;
    const int pc = partner_[static_cast<std::size_t>(c)];
    std::int32_t p[kNumStages];
    for (int i = 0; i < kNumStages; ++i) {
      const int taps = taps_[i];
      std::int64_t dot = dot16(s.f[i].w.data(), s.h[i].values(taps), taps);
      if (i == 0 && pc >= 0) {
        // Cross weights are coarser (kCrossShift) so that they reach +-1 and beyond.
        dot += std::int64_t{dot16(s.fx.w.data(), ch_[pc].h[0].values(kCross), kCross)} *
               (std::int64_t{1} << (kStages[0].shift - kCrossShift));
      }
      p[i] = round_shift(dot, kStages[i].shift - scale_);
    }
    // e[0]: the stage-1 residual; e[i + 1] = e[i] - p[i] trains stage i.
    // What is coded is e[0] minus the stage mix: sum of m[i] * p[i], with
    // weights m[i] (1.0 = 2^kMixShift) adapted by sign-sign LMS.
    std::int64_t mix = 0;
    for (int i = 0; i < kNumStages; ++i) mix += std::int64_t{s.m[i]} * p[i];
    const std::int32_t pm = static_cast<std::int32_t>((mix + (std::int64_t{1} << (kMixShift - 1))) >> kMixShift);
    std::int32_t e[kNumStages + 1];
    std::int32_t r;
    if constexpr (Io::kEncoder) {
      e[0] = v - base;
      r = e[0] - pm;
      code_residual(io, s.model, r, bad);
    } else {
      r = code_residual(io, s.model, 0, bad);
      if (*bad) return 0;
      // A legitimate e0 is below 2^27; refusing 2^30 and beyond keeps every
      // later sum inside int32 whatever a corrupt payload holds.
      const std::int64_t e0 = std::int64_t{r} + pm;
      if (e0 <= -(std::int64_t{1} << 30) || e0 >= (std::int64_t{1} << 30)) {
        *bad = true;
        return 0;
      }
      e[0] = static_cast<std::int32_t>(e0);
      v = e[0] + base;
    }
    for (int i = 0; i < kNumStages; ++i) e[i + 1] = e[i] - p[i];
    const int dr = sign_of(r);
    for (int i = 0; i < kNumStages; ++i) {
      const std::int32_t m = s.m[i] + dr * sign_of(p[i]) * kMixStep;
      s.m[i] = std::max(0, std::min(m, 4 << kMixShift));
    }
    // Sign-sign updates, then the histories move on.
    for (int i = 0; i < kNumStages; ++i) {
      const int taps = taps_[i];
      const int dir = sign_of(e[i + 1]);
      adapt16(s.f[i].w.data(), s.h[i].steps(taps), taps, dir);
      if (i == 0 && pc >= 0) adapt16(s.fx.w.data(), ch_[pc].h[0].steps(kCross), kCross, dir);
    }
    for (int i = 0; i < kNumStages; ++i) s.h[i].push(e[i]);
    s.x3 = s.x2;
    s.x2 = s.x1;
    s.x1 = v;
    return v;
  }

 private:
  AudioLayout layout_;
  std::vector<Channel> ch_;
  std::vector<int> partner_;
  int scale_ = 0;
  int order_ = 1;
  int taps_[kNumStages];
};

struct EncIoT : EncIo {
  static constexpr bool kEncoder = true;
};
struct DecIoT : DecIo {
  static constexpr bool kEncoder = false;
};

// ---------------------------------------------------------------------------
// Sample bytes.

inline std::int32_t read_sample(const std::uint8_t* p, const AudioLayout& l) {
  const int n = static_cast<int>(l.bytes_per_sample);
  std::uint32_t raw = 0;
  for (int i = 0; i < n; ++i) raw |= std::uint32_t{p[l.big_endian ? n - 1 - i : i]} << (8 * i);
  const int bits = 8 * n;
  const std::uint32_t half = 1u << (bits - 1);
  if (l.is_unsigned) return static_cast<std::int32_t>(raw) - static_cast<std::int32_t>(half);
  return static_cast<std::int32_t>(raw ^ half) - static_cast<std::int32_t>(half);  // sign-extend
}

inline void write_sample(std::uint8_t* p, const AudioLayout& l, std::int32_t v) {
  const int n = static_cast<int>(l.bytes_per_sample);
  const std::uint32_t half = 1u << (8 * n - 1);
  std::uint32_t raw = static_cast<std::uint32_t>(v + static_cast<std::int32_t>(half));  // offset binary
  if (!l.is_unsigned) raw ^= half;
  for (int i = 0; i < n; ++i) p[l.big_endian ? n - 1 - i : i] = static_cast<std::uint8_t>(raw >> (8 * i));
}

// Header: magic, channels, format byte (bytes_per_sample | big_endian << 4 |
// is_unsigned << 5), frames as LEB128.
void write_header(const AudioLayout& l, std::vector<std::uint8_t>& out) {
  out.push_back(kMagic);
  out.push_back(static_cast<std::uint8_t>(l.channels));
  out.push_back(static_cast<std::uint8_t>(l.bytes_per_sample | (l.big_endian ? 0x10 : 0) | (l.is_unsigned ? 0x20 : 0)));
  std::uint64_t f = l.frames;
  do {
    std::uint8_t b = static_cast<std::uint8_t>(f & 0x7F);
    f >>= 7;
    if (f) b |= 0x80;
    out.push_back(b);
  } while (f);
}

// Returns the header length, 0 if malformed.
std::size_t read_header(const std::uint8_t* p, std::size_t size, AudioLayout* l, std::string* why) {
  auto fail = [&](const char* m) {
    if (why) *why = m;
    return std::size_t{0};
  };
  if (size < 4) return fail("audio payload: shorter than its header");
  if (p[0] != kMagic) return fail("audio payload: unknown format identifier");
  l->channels = p[1];
  if (p[2] & 0xC0 || (p[2] & 0x0C)) return fail("audio payload: reserved bits set in the format byte");
  l->bytes_per_sample = p[2] & 0x03;
  l->big_endian = (p[2] & 0x10) != 0;
  l->is_unsigned = (p[2] & 0x20) != 0;
  std::uint64_t f = 0;
  std::size_t i = 3;
  for (int shift = 0;; shift += 7) {
    if (i >= size) return fail("audio payload: truncated frame count");
    if (shift > 28) return fail("audio payload: frame count too long");
    const std::uint8_t b = p[i++];
    f |= std::uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80)) break;
  }
  l->frames = f;
  if (!valid_audio_layout(*l)) return fail("audio payload: invalid layout");
  return i;
}

}  // namespace

std::uint64_t audio_bytes(const AudioLayout& l) {
  const std::uint64_t per = std::uint64_t{l.channels} * l.bytes_per_sample;
  if (per == 0) return 0;
  if (l.frames > UINT64_MAX / per) return UINT64_MAX;
  return l.frames * per;
}

bool valid_audio_layout(const AudioLayout& l) {
  return l.channels >= 1 && l.channels <= 8 && l.bytes_per_sample >= 1 && l.bytes_per_sample <= 3 &&
         l.frames >= 1 && audio_bytes(l) <= kMaxAudioBytes;
}

bool peek_audio_layout(const std::uint8_t* payload, std::size_t size, AudioLayout* layout) {
  return read_header(payload, size, layout, nullptr) != 0;
}

namespace {

// The mode byte: bits 0-1 the stage-1 order (1..3), bit 2 set when each
// channel c > 0 is coded as its difference from channel c - 1, bits 3-4 the
// index of the NLMS step in kSteps; bits 5-7 zero.
constexpr int kDiffMode = 4;
constexpr int kStepShift = 3;
constexpr int kShortMode = 0x20;

bool valid_mode(int mode, const AudioLayout& layout) {
  const int order = mode & 3, step = (mode >> kStepShift) & 3;
  return (mode & ~0x3F) == 0 && order >= kMinOrder && order <= kMaxOrder && step < 3 &&
         !((mode & kDiffMode) && layout.channels == 1);
}

// One complete encoding of the first `frames` frames in `mode`: header, mode
// byte, coded samples.
std::vector<std::uint8_t> encode_with(const AudioLayout& full, const std::uint8_t* data, int mode, std::uint64_t frames) {
  AudioLayout layout = full;
  layout.frames = frames;
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(audio_bytes(layout) / 2 + 64));
  write_header(layout, out);
  out.push_back(static_cast<std::uint8_t>(mode));
  BitEncoder enc(out);
  EncIoT io;
  io.enc = &enc;
  Codec codec(layout, mode & 3, kSteps[(mode >> kStepShift) & 3], (mode & kShortMode) != 0);
  const bool diff = (mode & kDiffMode) != 0;
  const std::size_t bps = layout.bytes_per_sample;
  const int channels = static_cast<int>(layout.channels);
  bool bad = false;
  const std::uint8_t* p = data;
  for (std::uint64_t t = 0; t < layout.frames; ++t) {
    std::int32_t prev = 0;
    for (int c = 0; c < channels; ++c, p += bps) {
      const std::int32_t x = read_sample(p, layout);
      codec.code(io, c, diff && c > 0 ? x - prev : x, &bad);
      prev = x;
    }
  }
  enc.finish();
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_audio(const AudioLayout& layout, const std::uint8_t* data) {
  if (!valid_audio_layout(layout)) throw std::invalid_argument("encode_audio: invalid layout");
  // The encoder picks the mode (stage-1 order, channel differences, NLMS
  // step) by coding a prefix of the stream in each and keeping the smallest;
  // short streams are coded whole, and the best payload is the result. The
  // decoder runs once, whatever was chosen.
  const std::uint64_t prefix =
      layout.frames <= kTrialFrames ? layout.frames : std::max<std::uint64_t>(kTrialFrames, layout.frames / 4);
  std::vector<std::uint8_t> best;
  int best_mode = 0;
  auto consider = [&](int mode) {
    if (!valid_mode(mode, layout)) return;
    std::vector<std::uint8_t> out = encode_with(layout, data, mode, prefix);
    if (best.empty() || out.size() < best.size()) {
      best.swap(out);
      best_mode = mode;
    }
  };
  // Order and channel differences at the middle step, then the other steps.
  for (int mode = 0; mode < 8; ++mode) consider(mode | (1 << kStepShift));
  const int chosen = best_mode & 7;
  consider(chosen | (0 << kStepShift));
  consider(chosen | (2 << kStepShift));
  consider(best_mode | kShortMode);
  if (prefix == layout.frames) return best;
  return encode_with(layout, data, best_mode, layout.frames);
}

bool decode_audio(const std::uint8_t* payload, std::size_t size, std::uint8_t* out, std::size_t out_size,
                  std::string* why) {
  auto fail = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  if (payload == nullptr) return fail("audio payload: null");
  AudioLayout layout;
  const std::size_t head = read_header(payload, size, &layout, why);
  if (head == 0) return false;
  if (audio_bytes(layout) != out_size) return fail("audio payload: sample bytes differ from the expected size");
  if (head >= size) return fail("audio payload: no mode byte");
  const int mode = payload[head];
  if (!valid_mode(mode, layout)) return fail("audio payload: unknown coding mode");
  const bool diff = (mode & kDiffMode) != 0;
  try {
    BitDecoder dec(payload + head + 1, size - head - 1);
    DecIoT io;
    io.dec = &dec;
    Codec codec(layout, mode & 3, kSteps[(mode >> kStepShift) & 3], (mode & kShortMode) != 0);
    const std::size_t bps = layout.bytes_per_sample;
    const int channels = static_cast<int>(layout.channels);
    const std::int32_t lo = -(1 << (8 * bps - 1)), hi = (1 << (8 * bps - 1)) - 1;
    bool bad = false;
    std::uint8_t* p = out;
    for (std::uint64_t t = 0; t < layout.frames; ++t) {
      std::int32_t prev = 0;
      for (int c = 0; c < channels; ++c, p += bps) {
        std::int32_t v = codec.code(io, c, 0, &bad);
        if (bad) return fail("audio payload: corrupt residual code");
        if (diff && c > 0) v += prev;  // |v| < 2^30 before the range check: no overflow
        prev = v;
        if (v < lo || v > hi) return fail("audio payload: decoded sample out of range");
        write_sample(p, layout, v);
      }
      if (dec.overrun()) return fail("audio payload: coded stream truncated");
    }
    if (dec.overrun()) return fail("audio payload: coded stream truncated");
  } catch (const std::exception&) {
    return fail("audio payload: corrupt coded stream");
  }
  return true;
}

}  // namespace lmzip

// Image codec: see image_codec.h and docs/image-codec.md.
//
// One model, run by the encoder and the decoder alike (a template over the
// coder), so both make the same integer decisions in the same order. Per
// sample: up to 17 predictions (8 fixed ones and 3 NLMS from its own
// neighbourhood, 5 from a reference channel already coded at this pixel, one
// NLMS stacked over all of them), blended with weights 1/err^2 of each
// predictor's recent error near the pixel (and at this pixel in the
// reference channels); a per-context bias correction; the residual modulo
// maxval+1 coded as zero flag, sign, Elias-gamma exponent and mantissa bits,
// each of the first bits mixed in the logistic domain from four adaptive
// models in different contexts. Everything is integer arithmetic on bounded
// values: predictions of 16-bit samples scaled by 8 stay below 2^22, products
// and sums below 2^62 (docs/image-codec.md, "Ranges").
#include "media/image_codec.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "coder/bit_coder.h"

namespace lmzip {

std::uint64_t image_bytes(const ImageLayout& l) { return std::uint64_t{l.row_bytes} * l.height; }

bool valid_image_layout(const ImageLayout& l) {
  if (l.width < 1 || l.width > kMaxImageWidth || l.height < 1) return false;
  if (l.channels < 1 || l.channels > 4) return false;
  if (l.bytes_per_sample != 1 && l.bytes_per_sample != 2) return false;
  const std::uint64_t samples = std::uint64_t{l.width} * l.channels * l.bytes_per_sample;
  if (l.row_bytes < samples) return false;
  return image_bytes(l) <= kMaxImageBytes;
}

namespace {

constexpr int kFrac = 3;             // predictions carry 3 fractional bits
constexpr int kScale = 1 << kFrac;
constexpr int kMaxPredictors = 17;
constexpr int kLmsInputs = 14;
constexpr int kLms2Inputs = 20;
constexpr int kLms2Mu = 12;
constexpr int kLms3Inputs = 8;
constexpr int kLms3Mu = 96;
constexpr int kStackMu = 8;
constexpr int kOwnPredictors = 11;  // predictors from the channel's own neighbours (and its NLMS)
constexpr int kRefErrWeight = 3;
constexpr int kRef2ErrWeight = 6;
constexpr int kLmsMu = 40;  // NLMS step: mu = kLmsMu / 256
constexpr int kBuckets = 20;         // activity buckets of the bit contexts
constexpr int kMaxExp = 17;          // exponent of |residual| <= 65535 is <= 15; room to spare
constexpr int kHeaderBytes = 18;
constexpr std::uint8_t kVersion = 1;

// An adaptive probability of a 1 bit: the step 1/(n+1.5) shrinks with the
// count n of bits seen, down to 1/kRateLimit, so a context learns fast at
// first and then averages over its last ~kRateLimit bits.
constexpr int kRateLimit = 1023;
struct RateTable {
  std::array<std::uint32_t, kRateLimit + 1> r{};
  constexpr RateTable() {
    for (int n = 0; n <= kRateLimit; ++n) r[n] = static_cast<std::uint32_t>((65536u * 2) / (2 * n + 3));
  }
};
constexpr RateTable kRates;

// The probability is kept in 1/2^22 so that slow rates still move it near 0 or 1.
struct BitModel {
  std::uint32_t p = 1u << 21;
  std::uint32_t n = 0;
  int p16() const { return static_cast<int>(p >> 6); }
  void update(int bit) {
    const std::uint64_t r = kRates.r[n];
    if (n < kRateLimit) ++n;
    if (bit) p += static_cast<std::uint32_t>((((1u << 22) - std::uint64_t{p}) * r) >> 16);
    else p -= static_cast<std::uint32_t>((std::uint64_t{p} * r) >> 16);
  }
};

// The logistic domain, integer only: squash(d) = 65536 / (1 + e^(-d/256)) for
// d in [-2047, 2047], interpolated linearly between 33 knots (computed once,
// written out here); stretch is its inverse on 12-bit probabilities, built by
// walking squash, so no floating point is ever evaluated.
constexpr int kSquashKnots[33] = {22,    36,    60,    98,    162,   267,   439,   720,   1179,  1921,  3108,
                                  4971,  7812,  11955, 17625, 24743, 32768, 40793, 47911, 53581, 57724, 60565,
                                  62428, 63615, 64357, 64816, 65097, 65269, 65374, 65438, 65476, 65500, 65514};
inline int squash(int d) {
  if (d > 2047) d = 2047;
  if (d < -2047) d = -2047;
  const int x = d + 2048, i = x >> 7, f = x & 127;
  return (kSquashKnots[i] * (128 - f) + kSquashKnots[i + 1] * f + 64) >> 7;
}
struct StretchTable {
  std::array<std::int16_t, 4096> t{};
  StretchTable() {
    int pi = 0;
    for (int d = -2047; d <= 2047; ++d) {
      const int v = squash(d) >> 4;
      for (int j = pi; j <= v; ++j) t[static_cast<std::size_t>(j)] = static_cast<std::int16_t>(d);
      pi = v + 1;
    }
    for (int j = pi; j < 4096; ++j) t[static_cast<std::size_t>(j)] = 2047;
  }
};
const StretchTable kStretch;
inline int stretch(int p16) { return kStretch.t[static_cast<std::size_t>(p16 >> 4)]; }

// Floor division by 2^s of a signed value, defined for negatives (a plain >>
// of a negative value is implementation-defined before C++20).
inline std::int64_t floor_shift(std::int64_t v, int s) {
  return v >= 0 ? v >> s : -((-v + (std::int64_t{1} << s) - 1) >> s);
}

// Mixes the stretched probabilities of kInputs models (and a constant) with
// weights in 1/65536, trained online to lower the coding cost.
constexpr int kInputs = 5;
constexpr int kMixShift = 20;  // learning rate: dw = x * err * kMixRate / 2^kMixShift
constexpr int kMixRate = 24;
struct Mixer {
  std::int32_t w[kInputs] = {16000, 16000, 16000, 16000, 0};
};

class EncodeSide {
 public:
  explicit EncodeSide(std::vector<std::uint8_t>& out) : enc_(out) {}
  int code(int bit, BitModel& m) {
    enc_.encode(bit, clamp_probability(m.p16()));
    m.update(bit);
    return bit;
  }
  int code_p(int bit, BitProbability p) {
    enc_.encode(bit, p);
    return bit;
  }
  void finish() { enc_.finish(); }
  static constexpr bool kDecoding = false;

 private:
  BitEncoder enc_;
};

class DecodeSide {
 public:
  DecodeSide(const std::uint8_t* data, std::size_t size) : dec_(data, size) {}
  int code(int, BitModel& m) {
    const int bit = dec_.decode(clamp_probability(m.p16()));
    m.update(bit);
    return bit;
  }
  int code_p(int, BitProbability p) { return dec_.decode(p); }
  bool overrun() const { return dec_.overrun(); }
  static constexpr bool kDecoding = true;

 private:
  BitDecoder dec_;
};

inline int iabs(int v) { return v < 0 ? -v : v; }
inline int bit_length(std::uint32_t v) { return v ? 32 - __builtin_clz(v) : 0; }

// Activity -> bucket: about two buckets per doubling.
inline int bucket_of(std::uint32_t a) {
  const int bl = bit_length(a);
  int q = bl < 2 ? static_cast<int>(a) : 2 * bl - 2 + static_cast<int>((a >> (bl - 2)) & 1);
  return q < kBuckets ? q : kBuckets - 1;
}

// The neighbourhood of one channel at one pixel, unscaled sample values.
struct Neighbours {
  int n, w, nw, ne, nn, ww, nne, nww, nee, nnw;
};

// Per coding slot (position in the coding order of a pixel's channels).
// Decisions coded through the mixer: zero flag, sign, exponent unary bit k,
// first mantissa bit under exponent k.
// Zero flag: 5 skews x 5 offsets; sign: 5 skews x 8 offsets (docs/image-codec.md).
constexpr int kDecZero = 0, kDecSign = (kScale / 2 + 1) * 5, kDecExp = kDecSign + kScale * 5,
              kDecMant = kDecExp + kMaxExp + 1;
constexpr int kDecisions = kDecMant + kMaxExp + 1;
// The contexts of one sample's decisions.
struct SampleContext {
  int qa, qb, qc, qd;  // buckets: activity, prediction spread, reference error (or texture), expected error
  int sign, skew;      // neighbour/reference error signs (9); predictors above the rounded prediction (5)
  int offset;          // prediction - rounded prediction, in 1/8, [-4, 3]
};
struct SlotModels {
  BitModel a[kBuckets][kDecisions];            // by local error activity
  BitModel b[kBuckets][kDecisions];            // by the spread of the predictions
  BitModel c[kBuckets][kDecisions];            // by the reference channel's error here (or texture)
  BitModel d[kBuckets][kDecisions];            // by the blend's expected error
  Mixer mix[kDecisions][9];
  BitModel mant[kMaxExp + 1][kMaxExp + 1];     // the other mantissa bits, by exponent and position
  // NLMS linear predictor over centred neighbours, weights in 1/65536.
  std::int32_t lms_w[kLmsInputs] = {};
  std::int32_t lms2_w[kLms2Inputs] = {};
  std::int32_t lms3_w[kLms3Inputs] = {};
  std::int32_t stack_w[kMaxPredictors] = {};
  // Bias correction (CALIC): mean true error per context, scaled.
  std::int32_t bias_sum[kBuckets * 64] = {};
  std::int32_t bias_count[kBuckets * 64] = {};
};

class ImageModel {
 public:
  explicit ImageModel(const ImageLayout& l)
      : l_(l),
        w_(static_cast<int>(l.width)),
        channels_(static_cast<int>(l.channels)),
        maxval_(l.bytes_per_sample == 2 ? 65535 : 255),
        stride_(w_ + 4),
        slots_(static_cast<std::size_t>(channels_)) {
    // Coding order: for 3 or 4 channels the middle one (G of RGB or BGR)
    // first, as the reference of the other colours; alpha last.
    static const int kOrder[5][4] = {{0}, {0}, {0, 1}, {1, 0, 2}, {1, 0, 2, 3}};
    for (int k = 0; k < channels_; ++k) order_[k] = kOrder[channels_][k];
    for (int k = 0; k < channels_; ++k) {
      ref_[k] = k == 0 ? -1 : order_[0];
      ref2_[k] = k == 2 ? order_[1] : -1;
    }
    const std::size_t row = static_cast<std::size_t>(channels_) * stride_;
    for (auto& v : vals_) v.assign(row, 0);
    for (auto& e : perr_) e.assign(row * kMaxPredictors, 0);
    for (auto& e : terr_) e.assign(row, 0);
  }

  template <class Side>
  bool run(Side& side, const std::uint8_t* in, std::uint8_t* out, std::string* why);

 private:
  int sample(const std::uint8_t* p) const {
    if (l_.bytes_per_sample == 1) return p[0];
    return l_.big_endian ? (p[0] << 8) | p[1] : (p[1] << 8) | p[0];
  }
  void put_sample(std::uint8_t* p, int v) const {
    if (l_.bytes_per_sample == 1) {
      p[0] = static_cast<std::uint8_t>(v);
    } else if (l_.big_endian) {
      p[0] = static_cast<std::uint8_t>(v >> 8);
      p[1] = static_cast<std::uint8_t>(v & 255);
    } else {
      p[1] = static_cast<std::uint8_t>(v >> 8);
      p[0] = static_cast<std::uint8_t>(v & 255);
    }
  }

  Neighbours neighbours(int c, int x, int y) const {
    const int* cur = &vals_[y % 3][static_cast<std::size_t>(c) * stride_ + 2];
    Neighbours nb;
    if (y == 0) {
      nb.w = x > 0 ? cur[x - 1] : (maxval_ + 1) / 2;
      nb.n = nb.nw = nb.ne = nb.nn = nb.nne = nb.nww = nb.nee = nb.nnw = nb.w;
      nb.ww = x > 1 ? cur[x - 2] : nb.w;
      return nb;
    }
    const int* prev = &vals_[(y + 2) % 3][static_cast<std::size_t>(c) * stride_ + 2];
    nb.n = prev[x];
    nb.nw = x > 0 ? prev[x - 1] : nb.n;
    nb.ne = x + 1 < w_ ? prev[x + 1] : nb.n;
    nb.w = x > 0 ? cur[x - 1] : nb.n;
    nb.ww = x > 1 ? cur[x - 2] : nb.w;
    nb.nww = x > 1 ? prev[x - 2] : nb.nw;
    nb.nee = x + 2 < w_ ? prev[x + 2] : nb.ne;
    if (y > 1) {
      const int* prev2 = &vals_[(y + 1) % 3][static_cast<std::size_t>(c) * stride_ + 2];
      nb.nn = prev2[x];
      nb.nne = x + 1 < w_ ? prev2[x + 1] : nb.nn;
      nb.nnw = x > 0 ? prev2[x - 1] : nb.nn;
    } else {
      nb.nn = nb.n;
      nb.nne = nb.ne;
      nb.nnw = nb.nw;
    }
    return nb;
  }

  template <class Side>
  int code_mixed(Side& side, SlotModels& m, int bit, int d, const SampleContext& cx);
  template <class Side>
  int code_residual(Side& side, SlotModels& m, int e, const SampleContext& cx, int max_abs, bool* bad);
  template <class Side>
  bool code_sample(Side& side, int k, int x, int y, int* value);

  ImageLayout l_;
  int w_, channels_, maxval_, stride_;
  int order_[4] = {0, 0, 0, 0}, ref_[4] = {-1, -1, -1, -1}, ref2_[4] = {-1, -1, -1, -1};
  std::vector<SlotModels> slots_;
  std::vector<int> vals_[3];              // rows y, y-1, y-2 (ring by y % 3): [channel][x + 2]
  std::vector<std::uint16_t> perr_[3];    // per predictor min(|error| * 8, 65535): [channel][x + 2][predictor], ring by y % 3
  std::vector<std::int32_t> terr_[2];     // final prediction - value, scaled by 8: [channel][x + 2]
  BitModel pad_[256];                     // row padding bytes: binary tree over the byte
};

template <class Side>
int ImageModel::code_mixed(Side& side, SlotModels& m, int bit, int d, const SampleContext& cx) {
  BitModel& ma = m.a[cx.qa][d];
  BitModel& mb = m.b[cx.qb][d];
  BitModel& mc = m.c[cx.qc][d];
  BitModel& md = m.d[cx.qd][d];
  const int x[kInputs] = {stretch(ma.p16()), stretch(mb.p16()), stretch(mc.p16()), stretch(md.p16()), 256};
  Mixer& mx = m.mix[d][d >= kDecSign && d < kDecExp ? cx.sign : 0];
  std::int64_t dot = 0;
  for (int i = 0; i < kInputs; ++i) dot += std::int64_t{mx.w[i]} * x[i];
  const int p = squash(static_cast<int>(floor_shift(dot, 16)));
  bit = side.code_p(bit, clamp_probability(p));
  ma.update(bit);
  mb.update(bit);
  mc.update(bit);
  md.update(bit);
  const std::int64_t err = (std::int64_t{bit} << 16) - p;
  for (int i = 0; i < kInputs; ++i) {
    const std::int64_t nw = mx.w[i] + floor_shift(x[i] * err * kMixRate, kMixShift);
    mx.w[i] = static_cast<std::int32_t>(std::clamp<std::int64_t>(nw, -(1 << 22), 1 << 22));
  }
  return bit;
}

template <class Side>
int ImageModel::code_residual(Side& side, SlotModels& m, int e, const SampleContext& cx, int max_abs, bool* bad) {
  // The prediction's fraction says on which side of the rounded value the
  // sample more likely lies, and how likely it is exactly there.
  if (code_mixed(side, m, e == 0, kDecZero + cx.skew * (kScale / 2 + 1) + iabs(cx.offset), cx)) return 0;
  const int neg = code_mixed(side, m, e < 0, kDecSign + cx.skew * kScale + kScale / 2 + cx.offset, cx);
  // |e| = v >= 1: exponent k = floor(log2 v) in unary, then the k bits below the leading one.
  const std::uint32_t v = static_cast<std::uint32_t>(iabs(e));
  const int kv = Side::kDecoding ? 0 : bit_length(v) - 1;
  int k = 0;
  while (code_mixed(side, m, k < kv, kDecExp + k, cx)) {
    if (++k >= kMaxExp) {
      *bad = true;
      return 0;
    }
  }
  std::uint32_t r = 1;
  for (int j = k - 1; j >= 0; --j) {
    const int bit = static_cast<int>((v >> j) & 1);
    r = (r << 1) | static_cast<std::uint32_t>(j == k - 1 ? code_mixed(side, m, bit, kDecMant + k, cx)
                                                         : side.code(bit, m.mant[k][j]));
  }
  if (static_cast<int>(r) > max_abs) {
    *bad = true;
    return 0;
  }
  return neg ? -static_cast<int>(r) : static_cast<int>(r);
}

template <class Side>
bool ImageModel::code_sample(Side& side, int k, int x, int y, int* value) {
  const int c = order_[k];
  SlotModels& m = slots_[static_cast<std::size_t>(k)];
  const Neighbours a = neighbours(c, x, y);
  const int grad = a.n + a.w - a.nw;
  int p[kMaxPredictors];
  int np = 0;
  p[np++] = grad * kScale;
  p[np++] = a.w * kScale;
  p[np++] = a.n * kScale;
  p[np++] = a.ne * kScale;
  p[np++] = (a.w + a.ne) * (kScale / 2);
  p[np++] = (a.w + a.ne - a.n) * kScale;
  p[np++] = (a.n + a.ne - a.nne) * kScale;
  {  // LOCO-I median edge detector
    const int mx = std::max(a.n, a.w), mn = std::min(a.n, a.w);
    p[np++] = (a.nw >= mx ? mn : a.nw <= mn ? mx : grad) * kScale;
  }
  // NLMS: the deviation of the sample from m = (N + W) / 2, predicted linearly
  // from the neighbours' deviations (this channel's, the reference channel's).
  const int mid = (a.n + a.w) / 2;
  int d[kLmsInputs];
  int nd = 0;
  d[nd++] = a.n - mid;
  d[nd++] = a.w - mid;
  d[nd++] = a.nw - mid;
  d[nd++] = a.ne - mid;
  d[nd++] = a.nn - mid;
  d[nd++] = a.ww - mid;
  d[nd++] = a.nne - mid;
  if (ref_[k] >= 0) {
    const int rc = ref_[k];
    const Neighbours b = neighbours(rc, x, y);
    const int xr = vals_[y % 3][static_cast<std::size_t>(rc) * stride_ + 2 + x];
    const int midr = (b.n + b.w) / 2;
    d[nd++] = xr - midr;
    d[nd++] = b.n - midr;
    d[nd++] = b.w - midr;
    d[nd++] = b.nw - midr;
    d[nd++] = b.ne - midr;
    if (ref2_[k] >= 0) {
      const int rc2 = ref2_[k];
      const Neighbours b2 = neighbours(rc2, x, y);
      const int xr2 = vals_[y % 3][static_cast<std::size_t>(rc2) * stride_ + 2 + x];
      const int midr2 = (b2.n + b2.w) / 2;
      d[nd++] = xr2 - midr2;
      d[nd++] = b2.n - midr2;
    }
  }
  std::int64_t ldot = 0, lnorm = 16;
  for (int i = 0; i < nd; ++i) {
    ldot += std::int64_t{m.lms_w[i]} * d[i];
    lnorm += std::int64_t{d[i]} * d[i];
  }
  p[np++] = static_cast<int>(std::clamp<std::int64_t>(mid * kScale + ldot / (65536 / kScale), -maxval_ * kScale,
                                                      2 * maxval_ * kScale));
  // A second, slower NLMS over a wider neighbourhood.
  int d2[kLms2Inputs];
  int nd2 = 0;
  for (int v : {a.n, a.w, a.nw, a.ne, a.nn, a.ww, a.nne, a.nww, a.nee, a.nnw}) d2[nd2++] = v - mid;
  if (ref_[k] >= 0) {
    const Neighbours b = neighbours(ref_[k], x, y);
    const int xr = vals_[y % 3][static_cast<std::size_t>(ref_[k]) * stride_ + 2 + x];
    const int midr = (b.n + b.w) / 2;
    for (int v : {xr, b.n, b.w, b.nw, b.ne, b.nn, b.ww}) d2[nd2++] = v - midr;
    if (ref2_[k] >= 0) {
      const Neighbours b2 = neighbours(ref2_[k], x, y);
      const int xr2 = vals_[y % 3][static_cast<std::size_t>(ref2_[k]) * stride_ + 2 + x];
      const int midr2 = (b2.n + b2.w) / 2;
      for (int v : {xr2, b2.n, b2.w}) d2[nd2++] = v - midr2;
    }
  }
  std::int64_t ldot2 = 0, lnorm2 = 16;
  for (int i = 0; i < nd2; ++i) {
    ldot2 += std::int64_t{m.lms2_w[i]} * d2[i];
    lnorm2 += std::int64_t{d2[i]} * d2[i];
  }
  p[np++] = static_cast<int>(std::clamp<std::int64_t>(mid * kScale + ldot2 / (65536 / kScale), -maxval_ * kScale,
                                                      2 * maxval_ * kScale));
  // A third, fast NLMS over the nearest neighbours: follows local structure.
  int d3[kLms3Inputs];
  int nd3 = 0;
  for (int v : {a.n, a.w, a.nw, a.ne}) d3[nd3++] = v - mid;
  if (ref_[k] >= 0) {
    const Neighbours b = neighbours(ref_[k], x, y);
    const int xr = vals_[y % 3][static_cast<std::size_t>(ref_[k]) * stride_ + 2 + x];
    const int midr = (b.n + b.w) / 2;
    for (int v : {xr, b.n, b.w}) d3[nd3++] = v - midr;
    if (ref2_[k] >= 0) {
      const Neighbours b2 = neighbours(ref2_[k], x, y);
      const int xr2 = vals_[y % 3][static_cast<std::size_t>(ref2_[k]) * stride_ + 2 + x];
      d3[nd3++] = xr2 - (b2.n + b2.w) / 2;
    }
  }
  std::int64_t ldot3 = 0, lnorm3 = 16;
  for (int i = 0; i < nd3; ++i) {
    ldot3 += std::int64_t{m.lms3_w[i]} * d3[i];
    lnorm3 += std::int64_t{d3[i]} * d3[i];
  }
  p[np++] = static_cast<int>(std::clamp<std::int64_t>(mid * kScale + ldot3 / (65536 / kScale), -maxval_ * kScale,
                                                      2 * maxval_ * kScale));

  // Cross-channel: this channel's neighbour plus the reference channel's
  // change from that neighbour to this pixel.
  int ref_err = 0;
  if (ref_[k] >= 0) {
    const int rc = ref_[k];
    const Neighbours b = neighbours(rc, x, y);
    const int xr = vals_[y % 3][static_cast<std::size_t>(rc) * stride_ + 2 + x];
    p[np++] = (a.w + xr - b.w) * kScale;
    p[np++] = (a.n + xr - b.n) * kScale;
    p[np++] = (grad + xr - (b.n + b.w - b.nw)) * kScale;
    p[np++] = (a.ne + xr - b.ne) * kScale;
    if (ref2_[k] >= 0) {
      const int rc2 = ref2_[k];
      const Neighbours d = neighbours(rc2, x, y);
      const int xr2 = vals_[y % 3][static_cast<std::size_t>(rc2) * stride_ + 2 + x];
      p[np++] = (grad + xr2 - (d.n + d.w - d.nw)) * kScale;
    } else {
      p[np++] = ((a.n + a.w) * 2 + (xr * 2 - b.n - b.w) * 2) * (kScale / 4);
    }
    ref_err = terr_[y % 2][static_cast<std::size_t>(rc) * stride_ + 2 + x];
  }
  // Stacking: an NLMS over all the predictions above, a global linear
  // combination beside the blend's local weighting.
  const int nstack = np;
  int ds[kMaxPredictors];
  std::int64_t sdot = 0, snorm = 16;
  for (int i = 0; i < nstack; ++i) {
    ds[i] = p[i] - mid * kScale;
    sdot += std::int64_t{m.stack_w[i]} * ds[i];
    snorm += std::int64_t{ds[i]} * ds[i];
  }
  p[np++] = static_cast<int>(
      std::clamp<std::int64_t>(mid * kScale + sdot / 65536, -maxval_ * kScale, 2 * maxval_ * kScale));

  // Each predictor's |error| summed over N, W (twice), NW, NE, WW, NWW, NEE, NN.
  const std::size_t base = static_cast<std::size_t>(c) * stride_ + 2 + x;
  const std::uint16_t* ecur = &perr_[y % 3][base * kMaxPredictors];
  const std::uint16_t* eprev = &perr_[(y + 2) % 3][base * kMaxPredictors];
  const std::uint16_t* eprev2 = &perr_[(y + 1) % 3][base * kMaxPredictors];
  // For the colours after the first, also the same predictor's error in the
  // reference channel at this pixel (predictors 0..kOwnPredictors-1 mean the
  // same in every channel).
  std::uint32_t eref[kMaxPredictors] = {};
  if (ref_[k] >= 0) {
    const std::uint16_t* er = &perr_[y % 3][(static_cast<std::size_t>(ref_[k]) * stride_ + 2 + x) * kMaxPredictors];
    for (int i = 0; i < kOwnPredictors; ++i) eref[i] = kRefErrWeight * er[i];
  }
  if (ref2_[k] >= 0) {
    const std::uint16_t* er = &perr_[y % 3][(static_cast<std::size_t>(ref2_[k]) * stride_ + 2 + x) * kMaxPredictors];
    // Slot 1's channel has the same predictors as slot 2: all of them count.
    for (int i = 0; i < np; ++i) eref[i] += kRef2ErrWeight * er[i];
  }
  std::int64_t sum = 0, wsum = 0, esum = 0;
  for (int i = 0; i < np; ++i) {
    const std::uint32_t es = 2 * (eprev[i] + ecur[i - kMaxPredictors]) + eprev[i - kMaxPredictors] +
                             eprev[i + kMaxPredictors] + ecur[i - 2 * kMaxPredictors] + eref[i] +
                             eprev[i + 2 * kMaxPredictors] + eprev[i - 2 * kMaxPredictors] + eprev2[i];
    const std::int64_t ed = std::int64_t{es} + 16;
    const std::int64_t wt = (std::int64_t{1} << 40) / (ed * ed) + 1;
    sum += wt * p[i];
    wsum += wt;
    esum += wt * es;
  }
  int pred = static_cast<int>(sum / wsum);

  // Context: recent true errors around the pixel, and at this pixel in the reference channel.
  const std::int32_t* tcur = &terr_[y % 2][base];
  const std::int32_t* tprev = &terr_[(y + 1) % 2][base];
  const int tn = tprev[0], tw = tcur[-1], tnw = tprev[-1], tne = tprev[1];
  std::uint32_t act = static_cast<std::uint32_t>(iabs(tn) + iabs(tw) + (iabs(tnw) + iabs(tne)) / 2 +
                                                 iabs(ref_err));
  act += static_cast<std::uint32_t>(iabs(a.n - a.nw) + iabs(a.w - a.nw) + iabs(a.ne - a.n));
  const int q = bucket_of(act);
  // Bias context: activity and the texture of the neighbourhood around the prediction.
  const int pu = pred;
  const int tex = (a.n * kScale > pu) | ((a.w * kScale > pu) << 1) | ((a.nw * kScale > pu) << 2) |
                  ((a.ne * kScale > pu) << 3) | ((tn > 0) << 4) | ((tw > 0) << 5);
  const int bctx = q * 64 + tex;
  if (m.bias_count[bctx] > 0) pred += m.bias_sum[bctx] / m.bias_count[bctx];
  pred = std::clamp(pred, 0, maxval_ * kScale);
  const int ipred = (pred + kScale / 2) >> kFrac;
  SampleContext cx;
  cx.qa = q;
  int pmin = p[0], pmax = p[0];
  for (int i = 1; i < np; ++i) {
    pmin = std::min(pmin, p[i]);
    pmax = std::max(pmax, p[i]);
  }
  cx.qb = bucket_of(static_cast<std::uint32_t>(pmax - pmin));
  cx.qc = ref_[k] >= 0 ? bucket_of(static_cast<std::uint32_t>(iabs(ref_err))) :
                         bucket_of(static_cast<std::uint32_t>(iabs(a.n - a.nn) + iabs(a.w - a.ww)) * 4);
  cx.qd = bucket_of(static_cast<std::uint32_t>(esum / wsum));
  cx.offset = pred - ipred * kScale;
  {  // How many predictors lie above the rounded prediction, in 5 steps.
    int above = 0;
    for (int i = 0; i < np; ++i) above += p[i] > ipred * kScale ? 2 : p[i] == ipred * kScale ? 1 : 0;
    cx.skew = above * 5 / (2 * np + 1);
  }
  cx.sign = (tn + tw > 0 ? 2 : tn + tw < 0 ? 1 : 0) * 3 + (ref_err > 0 ? 2 : ref_err < 0 ? 1 : 0);

  // The residual modulo maxval + 1, in [-half, half): noise costs no more
  // than the raw bits, and every decoded residual gives a valid sample.
  bool bad = false;
  const int modulus = maxval_ + 1, half = modulus / 2;
  int v;
  if (Side::kDecoding) {
    const int e = code_residual(side, m, 0, cx, half, &bad);
    if (bad) return false;
    v = ipred + e;
    v = v < 0 ? v + modulus : v >= modulus ? v - modulus : v;
  } else {
    v = *value;
    int e = v - ipred;
    e = e < -half ? e + modulus : e >= half ? e - modulus : e;
    code_residual(side, m, e, cx, half, &bad);
  }
  *value = v;

  // Updates: the sample, each predictor's error, the true error, the bias.
  vals_[y % 3][base] = v;
  const int vs = v * kScale;
  std::uint16_t* eout = &perr_[y % 3][base * kMaxPredictors];
  for (int i = 0; i < np; ++i) eout[i] = static_cast<std::uint16_t>(std::min(iabs(p[i] - vs), 65535));
  {  // NLMS update: w += mu * err * d / |d|^2.
    const std::int64_t lerr =
        std::clamp<std::int64_t>(std::int64_t{v - mid} * 65536 - ldot, -(std::int64_t{1} << 36), std::int64_t{1} << 36);
    for (int i = 0; i < nd; ++i) {
      const std::int64_t nw = m.lms_w[i] + lerr * d[i] * kLmsMu / (lnorm * 256);
      m.lms_w[i] = static_cast<std::int32_t>(std::clamp<std::int64_t>(nw, -(1 << 20), 1 << 20));
    }
    const std::int64_t lerr2 = std::clamp<std::int64_t>(std::int64_t{v - mid} * 65536 - ldot2,
                                                        -(std::int64_t{1} << 36), std::int64_t{1} << 36);
    for (int i = 0; i < nd2; ++i) {
      const std::int64_t nw = m.lms2_w[i] + lerr2 * d2[i] * kLms2Mu / (lnorm2 * 256);
      m.lms2_w[i] = static_cast<std::int32_t>(std::clamp<std::int64_t>(nw, -(1 << 20), 1 << 20));
    }
    const std::int64_t lerr3 = std::clamp<std::int64_t>(std::int64_t{v - mid} * 65536 - ldot3,
                                                        -(std::int64_t{1} << 36), std::int64_t{1} << 36);
    for (int i = 0; i < nd3; ++i) {
      const std::int64_t nw = m.lms3_w[i] + lerr3 * d3[i] * kLms3Mu / (lnorm3 * 256);
      m.lms3_w[i] = static_cast<std::int32_t>(std::clamp<std::int64_t>(nw, -(1 << 20), 1 << 20));
    }
    const std::int64_t serr = std::clamp<std::int64_t>(std::int64_t{v - mid} * kScale * 65536 - sdot,
                                                       -(std::int64_t{1} << 36), std::int64_t{1} << 36);
    for (int i = 0; i < nstack; ++i) {
      const std::int64_t nw = m.stack_w[i] + serr * ds[i] * kStackMu / (snorm * 256);
      m.stack_w[i] = static_cast<std::int32_t>(std::clamp<std::int64_t>(nw, -(1 << 20), 1 << 20));
    }
  }
  const int te = pred - vs;
  terr_[y % 2][base] = te;
  m.bias_sum[bctx] -= te;
  if (++m.bias_count[bctx] >= 256) {
    m.bias_sum[bctx] /= 2;
    m.bias_count[bctx] /= 2;
  }
  return true;
}

template <class Side>
bool ImageModel::run(Side& side, const std::uint8_t* in, std::uint8_t* out, std::string* why) {
  const int h = static_cast<int>(l_.height);
  const std::size_t bps = l_.bytes_per_sample;
  const std::size_t samples_bytes = static_cast<std::size_t>(w_) * channels_ * bps;
  for (int y = 0; y < h; ++y) {
    const std::size_t row = static_cast<std::size_t>(y) * l_.row_bytes;
    for (int x = 0; x < w_; ++x) {
      const std::size_t px = row + static_cast<std::size_t>(x) * channels_ * bps;
      for (int k = 0; k < channels_; ++k) {
        const std::size_t at = px + static_cast<std::size_t>(order_[k]) * bps;
        int v = Side::kDecoding ? 0 : sample(in + at);
        if (!code_sample(side, k, x, y, &v)) {
          if (why) *why = "image payload: a residual out of range (corrupt stream)";
          return false;
        }
        if (Side::kDecoding) put_sample(out + at, v);
      }
    }
    // Row padding: each byte through a binary tree of adaptive bits.
    for (std::size_t i = row + samples_bytes; i < row + l_.row_bytes; ++i) {
      const int byte = Side::kDecoding ? 0 : in[i];
      int node = 1;
      for (int b = 7; b >= 0; --b) node = (node << 1) | side.code((byte >> b) & 1, pad_[node]);
      if (Side::kDecoding) out[i] = static_cast<std::uint8_t>(node & 255);
    }
  }
  return true;
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

}  // namespace

std::vector<std::uint8_t> encode_image(const ImageLayout& layout, const std::uint8_t* data) {
  if (!valid_image_layout(layout)) throw std::invalid_argument("encode_image: invalid image layout");
  std::vector<std::uint8_t> out;
  out.push_back(kVersion);
  put_u32(out, layout.width);
  put_u32(out, layout.height);
  put_u32(out, layout.row_bytes);
  out.push_back(static_cast<std::uint8_t>((layout.channels - 1) | (layout.bytes_per_sample - 1) << 2 |
                                          (layout.big_endian ? 8 : 0)));
  put_u32(out, 0);  // the coded stream's length, filled in below
  EncodeSide side(out);
  auto model = std::make_unique<ImageModel>(layout);
  model->run(side, data, nullptr, nullptr);
  side.finish();
  const std::uint64_t coded = out.size() - kHeaderBytes;
  if (coded > 0xFFFFFFFFu) throw std::length_error("encode_image: coded stream over 4 GiB");
  for (int i = 0; i < 4; ++i) out[14 + i] = static_cast<std::uint8_t>(coded >> (8 * i));
  return out;
}

bool decode_image(const std::uint8_t* payload, std::size_t size, std::uint8_t* out, std::size_t out_size,
                  std::string* why) {
  auto fail = [why](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (size < kHeaderBytes) return fail("image payload: shorter than its 18-byte header");
  if (payload[0] != kVersion) return fail("image payload: unknown version");
  ImageLayout l;
  l.width = get_u32(payload + 1);
  l.height = get_u32(payload + 5);
  l.row_bytes = get_u32(payload + 9);
  const std::uint8_t flags = payload[13];
  if ((flags & 0xF0) != 0) return fail("image payload: reserved bits set");
  if (get_u32(payload + 14) != size - kHeaderBytes)
    return fail("image payload: coded stream length differs from the header's (truncated or padded)");
  l.channels = (flags & 3u) + 1;
  l.bytes_per_sample = ((flags >> 2) & 1u) + 1;
  l.big_endian = (flags & 8) != 0;
  if (!valid_image_layout(l)) return fail("image payload: invalid layout");
  if (image_bytes(l) != out_size) return fail("image payload: layout size differs from the output size");
  DecodeSide side(payload + kHeaderBytes, size - kHeaderBytes);
  auto model = std::make_unique<ImageModel>(l);
  if (!model->run(side, nullptr, out, why)) return false;
  if (side.overrun()) return fail("image payload: coded stream truncated (decoder read past its end)");
  return true;
}

}  // namespace lmzip

// Context-mixing coder for binary data (docs/context-mixing.md).
//
// Every byte is coded as 8 binary decisions, high bit first, each with a
// 16-bit probability from this pipeline:
//   * context maps: a context hash selects a 16-byte slot per nibble in a
//     hash table; the slot holds 15 bit-history states (one per node of the
//     nibble's binary tree). A state counts recent zeros and ones; an adaptive
//     table per map turns the state into a probability (state maps).
//   * a match model: the longest earlier occurrence of the last bytes predicts
//     the next bit, with a confidence learned per match length.
//   * a record model finds a repeating record length (tables, bitmaps) and
//     gives contexts of the bytes above.
//   * indirect contexts: the bytes that followed the last byte (and pair)
//     the previous times it occurred.
//   * four mixers (weights chosen by the partial byte, the match state, the
//     previous byte and how many of the order 1-6 contexts were seen before)
//     and a final mixer combine the stretched predictions; two APM stages
//     refine the result.
// Everything is integer arithmetic on fixed tables computed with integer
// code, so encoder and decoder agree bit for bit on every machine.
#include "coder/context_mixing.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "coder/bit_coder.h"

namespace lmzip {
namespace {

constexpr std::uint8_t kFormatVersion = 1;
constexpr std::uint8_t kFlagX86 = 1;  // the E8/E9 call transform was applied before coding
constexpr std::uint8_t kFlagNetwork = 2;  // a byte network's predictions were mixed in
constexpr std::size_t kHeaderBytes = 2;

// Arithmetic shift right (floor division by 2^s) that does not depend on the
// implementation-defined shift of negative numbers.
inline std::int64_t asr(std::int64_t x, int s) { return x >= 0 ? x >> s : ~(~x >> s); }

// ---------------------------------------------------------------------------
// Fixed tables.

// The logistic function 4096 / (1 + e^(-x/256)) at x = -2048, -1920, ..., 2048
// (rounded); squash() interpolates between them.
constexpr std::array<int, 33> kSquashKnots = {1,    2,    3,    6,    10,   16,   27,   45,   73,   120,  194,
                                              310,  488,  747,  1101, 1546, 2047, 2549, 2994, 3348, 3607, 3785,
                                              3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094};

// Bit-history states: a pair (n0, n1) of recent counts of zeros and ones.
// The allowed pairs: the larger count is bounded by a limit that shrinks as
// the smaller grows (a context seen with both values needs less memory of
// either). 187 states fit a byte.
constexpr int kStateLimit[7] = {40, 24, 16, 10, 8, 7, 6};
inline bool state_allowed(int a, int b) {
  const int lo = std::min(a, b), hi = std::max(a, b);
  return lo < 7 && hi <= kStateLimit[lo];
}

struct Tables {
  std::int16_t squash[4096];   // index d + 2048 for d in [-2048, 2047]
  std::int16_t stretch[4096];  // inverse of squash: p (12 bits) -> d
  std::uint8_t next[256][2];   // state transitions
  std::uint8_t n0[256], n1[256];
  std::uint32_t state_p[256];  // initial state-map probability (22 bits)
  std::uint16_t recip[1024];   // 2^17 / (2n + 3): the adaptation rate after n updates
  int states = 0;
};

int squash_knots(int d) {  // d in [-2047, 2047] -> 12-bit probability
  if (d > 2047) d = 2047;
  if (d < -2047) d = -2047;
  const int idx = d + 2048, i = idx >> 7, w = idx & 127;
  return (kSquashKnots[i] * (128 - w) + kSquashKnots[i + 1] * w + 64) >> 7;
}

Tables make_tables() {
  Tables t{};
  for (int d = -2048; d < 2048; ++d) t.squash[d + 2048] = static_cast<std::int16_t>(squash_knots(d));
  int pi = 0;
  for (int x = -2047; x <= 2047; ++x) {
    const int v = squash_knots(x);
    for (int j = pi; j <= v; ++j) t.stretch[j] = static_cast<std::int16_t>(x);
    pi = std::max(pi, v + 1);
  }
  for (int j = pi; j < 4096; ++j) t.stretch[j] = 2047;

  int index[41][41];
  for (auto& row : index)
    for (int& v : row) v = -1;
  int n = 0;
  for (int total = 0; total <= 80; ++total)
    for (int a = 0; a <= 40; ++a) {
      const int b = total - a;
      if (b < 0 || b > 40 || !state_allowed(a, b)) continue;
      index[a][b] = n;
      t.n0[n] = static_cast<std::uint8_t>(a);
      t.n1[n] = static_cast<std::uint8_t>(b);
      t.state_p[n] = static_cast<std::uint32_t>((std::uint64_t{2} * b + 1) * (std::uint64_t{1} << 22) /
                                                (std::uint64_t{2} * (a + b) + 2));
      ++n;
    }
  t.states = n;
  for (int s = 0; s < n; ++s)
    for (int y = 0; y < 2; ++y) {
      int a = t.n0[s], b = t.n1[s];
      // The observed count grows; the other is discounted, so a context that
      // changes its mind adapts quickly.
      if (y) {
        ++b;
        if (a > 2) a = a / 2 + 1;
      } else {
        ++a;
        if (b > 2) b = b / 2 + 1;
      }
      while (!state_allowed(a, b)) (a > b ? a : b) -= 1;
      t.next[s][y] = static_cast<std::uint8_t>(index[a][b]);
    }
  for (int i = 0; i < 1024; ++i) t.recip[i] = static_cast<std::uint16_t>(131072 / (2 * i + 3));
  return t;
}

const Tables& tables() {
  static const Tables t = make_tables();
  return t;
}

inline int squash(int d) {
  if (d > 2047) d = 2047;
  if (d < -2048) d = -2048;
  return tables().squash[d + 2048];
}
inline int stretch(int p) { return tables().stretch[p]; }

inline std::uint32_t hash32(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  std::uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full ^
                    (c + 0x1F83D9ABFB41BD6Bull) * 0x165667B19E3779F9ull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return static_cast<std::uint32_t>(h);
}

std::size_t pow2_at_least(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// ---------------------------------------------------------------------------
// Adaptive maps from a small context to a probability: 22-bit probability and
// a 10-bit count in one word; the rate is 1/(n + 1.5) until n reaches limit.
class StateMap {
 public:
  StateMap(std::size_t n, int limit, bool from_states) : t_(n), limit_(limit) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t p = from_states ? tables().state_p[i & 255] : (1u << 21);
      t_[i] = p << 10;
    }
  }
  int p(std::size_t cx) {
    cx_ = cx;
    return static_cast<int>(t_[cx] >> 20);
  }
  void update(int y) {
    std::uint32_t& e = t_[cx_];
    std::uint32_t n = e & 1023;
    const std::int64_t p = e >> 10;
    const std::int64_t np = p + asr(((static_cast<std::int64_t>(y) << 22) - p) * tables().recip[n], 16);
    if (n < static_cast<std::uint32_t>(limit_)) ++n;
    e = static_cast<std::uint32_t>(np) << 10 | n;
  }
  std::size_t bytes() const { return t_.size() * sizeof(std::uint32_t); }

 private:
  std::vector<std::uint32_t> t_;
  std::size_t cx_ = 0;
  int limit_;
};

// Hashed bit histories: a slot of 16 bytes per (context, nibble) holds a check
// byte and the 15 states of the nibble's binary tree. A context probes three
// slots of a 4-slot group; a miss replaces the least used of the three.
struct Slot {
  std::uint8_t check;
  std::uint8_t s[15];
};
static_assert(sizeof(Slot) == 16, "slots are 16 bytes");

class ContextMap {
 public:
  explicit ContextMap(std::size_t slots) : t_(slots), mask_(static_cast<std::uint32_t>(slots - 1)) {}
  // Selects the slot of context hash h (at bits 0 and 4 of a byte).
  // Returns whether the context was found (false: a fresh slot).
  bool select(std::uint32_t h) {
    const std::uint8_t check = static_cast<std::uint8_t>(h);
    const std::uint32_t idx = (h >> 8) & mask_;
    const Tables& tb = tables();
    for (std::uint32_t j = 0; j < 3; ++j) {
      Slot& s = t_[idx ^ j];
      if (s.check == check) {
        slot_ = &s;
        return true;
      }
    }
    Slot* victim = &t_[idx];
    int best = 1 << 30;
    for (std::uint32_t j = 0; j < 3; ++j) {
      Slot& s = t_[idx ^ j];
      const int prio = tb.n0[s.s[0]] + tb.n1[s.s[0]];
      if (prio < best) best = prio, victim = &s;
    }
    std::memset(victim, 0, sizeof(Slot));
    victim->check = check;
    slot_ = victim;
    return false;
  }
  // The state of node (1..15) of the nibble tree.
  std::uint8_t* state(int node) { return &slot_->s[node - 1]; }
  std::size_t bytes() const { return t_.size() * sizeof(Slot); }

 private:
  std::vector<Slot> t_;
  std::uint32_t mask_;
  Slot* slot_ = nullptr;
};

// Neural mixer: weights (16.16 fixed point) per selected set, dot product of
// the stretched inputs, trained online to reduce coding cost.
class Mixer {
 public:
  Mixer(int inputs, int sets, int lr, int init)
      : n_(inputs), lr_(lr), w_(static_cast<std::size_t>(inputs) * sets, init) {}
  // Returns the mixed prediction in the stretch domain.
  int mix(const int* x, int set) {
    x_ = x;
    w_sel_ = &w_[static_cast<std::size_t>(set) * n_];
    std::int64_t dot = 0;
    for (int i = 0; i < n_; ++i) dot += static_cast<std::int64_t>(x[i]) * w_sel_[i];
    std::int64_t d = asr(dot, 16);
    d = std::clamp<std::int64_t>(d, -2047, 2047);
    pr_ = squash(static_cast<int>(d));
    return static_cast<int>(d);
  }
  void update(int y) {
    const std::int64_t lr16 = 16 * lr_ + (std::int64_t{32 * lr_} << 16) / ((1 << 16) + updates_);
    if (updates_ < (1u << 30)) ++updates_;
    const std::int64_t err = static_cast<std::int64_t>((y << 12) - pr_) * lr16;
    for (int i = 0; i < n_; ++i) {
      const std::int64_t w = w_sel_[i] + asr(x_[i] * err, 18);
      w_sel_[i] = static_cast<std::int32_t>(std::clamp<std::int64_t>(w, -(1 << 22), 1 << 22));
    }
  }
  int pr() const { return pr_; }
  std::size_t bytes() const { return w_.size() * sizeof(std::int32_t); }

 private:
  int n_, lr_;
  std::vector<std::int32_t> w_;
  const int* x_ = nullptr;
  std::int32_t* w_sel_ = nullptr;
  int pr_ = 2048;
  std::uint32_t updates_ = 0;
};

// Adaptive probability map (SSE): refines a probability given a context by
// interpolating between 33 bins over the stretch domain; 16-bit outputs.
class Apm {
 public:
  Apm(std::size_t contexts, int rate) : t_(contexts * 33), rate_(rate) {
    std::uint16_t row[33];
    for (int j = 0; j < 33; ++j) row[j] = static_cast<std::uint16_t>(squash((j - 16) * 128) * 16);
    for (std::size_t c = 0; c < contexts; ++c) std::memcpy(&t_[c * 33], row, sizeof row);
  }
  // pr: 12-bit probability; returns a 16-bit probability.
  int refine(int pr, std::size_t cx) {
    const int s = stretch(pr) + 2048;  // 1..4095
    const int lo = s >> 7, w = s & 127;
    const std::size_t base = cx * 33;
    idx_ = base + lo + (w >> 6);
    return (t_[base + lo] * (128 - w) + t_[base + lo + 1] * w) >> 7;
  }
  void update(int y) {
    const int target = y ? 65535 : 0;
    int v = t_[idx_];
    v += (target - v) >> rate_;  // both sides: arithmetic shift of an int, bounded
    t_[idx_] = static_cast<std::uint16_t>(v);
  }
  std::size_t bytes() const { return t_.size() * sizeof(std::uint16_t); }

 private:
  std::vector<std::uint16_t> t_;
  std::size_t idx_ = 0;
  int rate_;
};

// ---------------------------------------------------------------------------
// The model.

constexpr int kMaps = 21;        // context maps
constexpr int kInputs = kMaps * 2 + 2 + 2 + 1;  // + match (2) + network (2, zero without one) + bias
constexpr int kFinalInputs = 6;  // four mixers, the network, the bias
constexpr int kMatchMin = 4;     // bytes hashed to find a match (4 beat 5, 6 and 9 on the training files)
constexpr std::uint32_t kMaxRecord = 4096;

struct Sizes {
  std::size_t map_slots[kMaps];
  std::size_t match_entries;
};

Sizes sizes_for(std::size_t size) {
  Sizes s{};
  const std::size_t big = std::clamp<std::size_t>(pow2_at_least(size * 2), 1u << 10, std::size_t{1} << 20);
  for (int i = 0; i < kMaps; ++i) s.map_slots[i] = big;
  s.map_slots[0] = 1u << 8;   // order 0: 17 nibble contexts
  s.map_slots[1] = std::min<std::size_t>(big, 1u << 14);  // order 1: 256 * 17
  s.match_entries = std::clamp<std::size_t>(pow2_at_least(size), 1u << 10, 1u << 22);
  return s;
}

class Model {
 public:
  // buf: the history; the model writes each byte into buf[pos] once coded.
  Model(std::uint8_t* buf, std::size_t size, BytePredictions* network)
      : buf_(buf), size_(size), sizes_(sizes_for(size)), network_(network),
        mix_c0_(kInputs, 256, 3, 4000), mix_match_(kInputs, 128, 3, 4000), mix_c1_(kInputs, 256, 3, 4000),
        mix_order_(kInputs, 64, 3, 4000), mix_final_(kFinalInputs, 8, 3, 16384), match_sm_(64, 1023, false), apm1_(256, 6), apm2_(65536, 6) {
    maps_.reserve(kMaps);
    sms_.reserve(kMaps);
    for (int i = 0; i < kMaps; ++i) {
      maps_.emplace_back(sizes_.map_slots[i]);
      sms_.emplace_back(256, 255, true);
    }
    match_table_.assign(sizes_.match_entries, 0);
    match_mask_ = static_cast<std::uint32_t>(sizes_.match_entries - 1);
    byte_contexts();
    if (network_) {
      network_->reset();
      network_step(256);
    }
  }

  // Probability (16 bits) that the next bit is 1.
  BitProbability p() {
    const Tables& tb = tables();
    int* x = x_;
    const int node = node_;
    for (int i = 0; i < kMaps; ++i) {
      std::uint8_t* st = maps_[i].state(node);
      states_[i] = st;
      const int pr = sms_[i].p(*st);
      *x++ = tb.stretch[pr];
      *x++ = (tb.n0[*st] == 0 || tb.n1[*st] == 0) ? tb.stretch[pr] : 0;
    }
    // Match model: the predicted bit, confidence learned per length.
    if (match_len_ > 0) {
      const int expected = ((buf_[match_ptr_] + 256) >> (7 - bpos_)) & 1;
      const int len = std::min<std::uint32_t>(match_len_, 31);
      const int pr = match_sm_.p(static_cast<std::size_t>(len * 2 + expected));
      *x++ = tb.stretch[pr];
      const int strength = std::min<int>(static_cast<int>(match_len_), 32) * 64;
      *x++ = expected ? strength : -strength;
    } else {
      match_sm_.p(0);
      *x++ = 0;
      *x++ = 0;
    }
    // The network: the probability of a 1 among the bytes that begin with
    // the bits so far, from its frequencies.
    int net = 0;
    if (network_) {
      const int width = 256 >> bpos_;
      const int lo = (c0_ - (1 << bpos_)) * width;
      const std::uint64_t n = below_[lo + width] - below_[lo], n1 = below_[lo + width] - below_[lo + width / 2];
      const int p12 = static_cast<int>(std::clamp<std::uint64_t>((n1 * 4096 + n / 2) / n, 1, 4095));
      net = tb.stretch[p12];
      *x++ = net;
      *x++ = (p12 - 2048) >> 1;
    } else {
      *x++ = 0;
      *x++ = 0;
    }
    *x++ = 256;  // bias
    const int lenb = match_len_ == 0 ? 0 : std::min<int>(15, 1 + ilog2(match_len_));
    fx_[0] = mix_c0_.mix(x_, c0_);
    fx_[1] = mix_match_.mix(x_, lenb << 3 | bpos_);
    fx_[2] = mix_c1_.mix(x_, c1());
    fx_[3] = mix_order_.mix(x_, order_ << 3 | bpos_);
    fx_[4] = net;
    fx_[5] = 256;
    const int d = mix_final_.mix(fx_, bpos_);
    const int pm = squash(d);
    const int a1 = apm1_.refine(pm, c0_);
    const int a2 = apm2_.refine(pm, static_cast<std::size_t>(c0_) | static_cast<std::size_t>(c1()) << 8);
    const int p16 = (pm * 16 + a1 + 2 * a2 + 2) >> 2;
    return clamp_probability(std::clamp(p16, 32, 65535 - 32));
  }

  void update(int y) {
    const Tables& tb = tables();
    for (int i = 0; i < kMaps; ++i) {
      sms_[i].update(y);
      *states_[i] = tb.next[*states_[i]][y];
    }
    match_sm_.update(y);
    mix_c0_.update(y);
    mix_match_.update(y);
    mix_c1_.update(y);
    mix_order_.update(y);
    mix_final_.update(y);
    apm1_.update(y);
    apm2_.update(y);

    if (match_len_ > 0) {
      const int expected = ((buf_[match_ptr_] + 256) >> (7 - bpos_)) & 1;
      if (expected != y) match_len_ = 0;
    }
    c0_ = c0_ << 1 | y;
    node_ = node_ * 2 + y;
    ++bpos_;
    if (bpos_ == 4) {
      node_ = 1;
      order_ = 0;
      for (int i = 0; i < kMaps; ++i) {
        const bool hit = maps_[i].select(hash32(hashes_[i], c0_));
        if (i >= 1 && i <= 5 && hit) ++order_;
      }
    } else if (bpos_ == 8) {
      buf_[pos_] = static_cast<std::uint8_t>(c0_ & 255);
      ++pos_;
      c0_ = 1;
      bpos_ = 0;
      node_ = 1;
      if (pos_ < size_) {
        byte_contexts();
        if (network_) network_step(buf_[pos_ - 1]);
      }
    }
  }

  std::uint64_t bytes() const { return model_bytes(sizes_); }
  static std::uint64_t model_bytes(const Sizes& s) {
    std::uint64_t b = 0;
    for (int i = 0; i < kMaps; ++i) b += s.map_slots[i] * sizeof(Slot) + 256 * 4;
    b += s.match_entries * 4;
    b += std::uint64_t{kInputs} * (256 + 128 + 256 + 64) * 4 + kFinalInputs * 8 * 4 + 64 * 4;
    b += (256 + 65536) * 33 * 2;
    b += 65536 * 2;  // ind2_
    return b;
  }

 private:
  static int ilog2(std::uint32_t v) {
    int r = 0;
    while (v > 1) v >>= 1, ++r;
    return r;
  }
  int c1() const { return pos_ > 0 ? buf_[pos_ - 1] : 0; }

  // Feeds the network `symbol`; below_[s] = the sum of its frequencies of the bytes before s.
  void network_step(std::uint32_t symbol) {
    network_->step(symbol, freqs_);
    below_[0] = 0;
    for (int s = 0; s < 256; ++s) below_[s + 1] = below_[s] + freqs_[s];
  }
  std::uint8_t back(std::size_t k) const { return pos_ >= k ? buf_[pos_ - k] : 0; }

  // After each byte (and before the first): the contexts of the next byte.
  void byte_contexts() {
    if (pos_ > 0) {
      const std::uint8_t c = buf_[pos_ - 1];
      // Words (text inside archives, symbol names, strings).
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 128;
      if (alnum) {
        word0_ = (word0_ + static_cast<std::uint32_t>(c >= 'A' && c <= 'Z' ? c + 32 : c) + 1) * 0x2F0B4C27u;
      } else if (word0_ != 0) {
        word1_ = word0_;
        word0_ = 0;
      }
      update_record(c);
      update_match();
      if (pos_ >= 2) {
        const std::uint8_t p1 = buf_[pos_ - 2];
        ind1_[p1] = static_cast<std::uint16_t>(ind1_[p1] << 8 | c);
        if (pos_ >= 3) {
          const std::uint32_t k = p1 | static_cast<std::uint32_t>(buf_[pos_ - 3]) << 8;
          ind2_[k] = static_cast<std::uint16_t>(ind2_[k] << 8 | c);
        }
      }
    }
    const std::uint32_t c4 = static_cast<std::uint32_t>(back(1)) | static_cast<std::uint32_t>(back(2)) << 8 |
                             static_cast<std::uint32_t>(back(3)) << 16 | static_cast<std::uint32_t>(back(4)) << 24;
    const std::uint32_t c8 = static_cast<std::uint32_t>(back(5)) | static_cast<std::uint32_t>(back(6)) << 8;
    const std::uint64_t b1 = back(1), b2 = back(2), b3 = back(3), b4 = back(4);
    std::uint64_t above = 0, above2 = 0, above_left = 0, above_right = 0, col = 0;
    if (rlen_ > 0) {
      above = back(rlen_);
      above2 = back(2 * rlen_);
      above_left = back(rlen_ + 1);
      above_right = rlen_ > 1 ? back(rlen_ - 1) : 0;
      col = pos_ % rlen_;
    }
    const std::uint64_t expected = match_len_ > 0 ? buf_[match_ptr_] | std::min<std::uint32_t>(match_len_, 15) << 8 : 0;
    std::uint32_t* h = hashes_;
    h[0] = 0;
    h[1] = hash32(1, b1);
    h[2] = hash32(2, c4 & 0xFFFF);
    h[3] = hash32(3, c4 & 0xFFFFFF);
    h[4] = hash32(4, c4);
    h[5] = hash32(5, c4, c8);
    h[6] = hash32(6, b2);
    h[7] = hash32(7, b3);
    h[8] = hash32(8, b2 | b3 << 8);
    h[9] = hash32(9, b1 | b3 << 8);
    h[10] = hash32(10, b4 | (pos_ & 3) << 8);
    h[11] = hash32(11, b2 | b4 << 8);
    h[12] = hash32(12, word0_, b1);
    h[13] = hash32(13, word0_, word1_);
    h[14] = hash32(14, above, rlen_);
    h[15] = hash32(15, above | b1 << 8, rlen_);
    h[16] = hash32(16, above | above_left << 8 | above_right << 16, rlen_);
    h[17] = hash32(17, col | above2 << 16, rlen_);
    h[18] = hash32(18, expected);
    h[19] = hash32(19, b1 | std::uint64_t{ind1_[b1]} << 8);
    h[20] = hash32(20, (c4 & 0xFFFF) | std::uint64_t{ind2_[c4 & 0xFFFF]} << 16);
    order_ = 0;
    for (int i = 0; i < kMaps; ++i) {
      const bool hit = maps_[i].select(hashes_[i]);
      if (i >= 1 && i <= 5 && hit) ++order_;
    }
  }

  // Record length: a byte value that recurs at the same distance three times
  // votes for that distance; a distance that wins 16 votes more than others
  // becomes the record length.
  void update_record(std::uint8_t c) {
    const std::uint32_t p = static_cast<std::uint32_t>(pos_);  // position after c, >= 1
    const std::uint32_t d1 = p - last_[c][0], d2 = last_[c][0] - last_[c][1], d3 = last_[c][1] - last_[c][2];
    if (last_[c][2] != 0 && d1 == d2 && d2 == d3 && d1 >= 2 && d1 <= kMaxRecord) {
      if (d1 == cand_) {
        if (cand_votes_ < 64) ++cand_votes_;
        if (cand_votes_ >= 16) rlen_ = cand_;
      } else if (cand_votes_ > 0) {
        --cand_votes_;
      } else {
        cand_ = d1;
        cand_votes_ = 1;
      }
    }
    last_[c][2] = last_[c][1];
    last_[c][1] = last_[c][0];
    last_[c][0] = p;
  }

  // Match model: extends the current match or finds one through the hash of
  // the last kMatchMin bytes.
  void update_match() {
    if (match_len_ > 0) {
      ++match_ptr_;
      if (match_len_ < 65535) ++match_len_;
    }
    if (pos_ < kMatchMin) return;
    std::uint64_t key = 0;
    for (int k = 1; k <= kMatchMin; ++k) key = key << 8 | buf_[pos_ - k];
    const std::uint32_t hidx = hash32(0x4D41544348ull, key) & match_mask_;
    if (match_len_ == 0) {
      const std::uint32_t cand = match_table_[hidx];
      if (cand > 0) {
        std::uint32_t len = 0;
        while (len < 65535 && len < cand && buf_[cand - 1 - len] == buf_[pos_ - 1 - len]) ++len;
        if (len >= kMatchMin) {
          match_len_ = len;
          match_ptr_ = cand;
        }
      }
    }
    match_table_[hidx] = static_cast<std::uint32_t>(pos_);
  }

  std::uint8_t* buf_;
  std::size_t size_;
  Sizes sizes_;
  BytePredictions* network_;
  std::size_t pos_ = 0;
  int c0_ = 1, bpos_ = 0, node_ = 1;
  std::vector<ContextMap> maps_;
  std::vector<StateMap> sms_;
  std::uint8_t* states_[kMaps] = {};
  std::uint32_t hashes_[kMaps] = {};
  int x_[kInputs] = {};
  int fx_[kFinalInputs] = {};
  std::uint32_t freqs_[256] = {};
  std::uint64_t below_[257] = {};
  int order_ = 0;  // how many of the order 1-6 contexts were seen before (0..5)
  Mixer mix_c0_, mix_match_, mix_c1_, mix_order_, mix_final_;
  StateMap match_sm_;
  Apm apm1_, apm2_;
  // Indirect contexts: the last two bytes that followed each byte (ind1_) and
  // each pair of bytes (ind2_).
  std::uint16_t ind1_[256] = {};
  std::vector<std::uint16_t> ind2_ = std::vector<std::uint16_t>(65536);
  std::vector<std::uint32_t> match_table_;
  std::uint32_t match_mask_ = 0;
  std::uint32_t match_len_ = 0;
  std::size_t match_ptr_ = 0;
  std::uint32_t word0_ = 0, word1_ = 0;
  std::uint32_t last_[256][3] = {};
  std::uint32_t cand_ = 0, cand_votes_ = 0, rlen_ = 0;
};

// ---------------------------------------------------------------------------
// x86 transform: the 32-bit displacement after an E8 (call) or E9 (jmp)
// opcode becomes an absolute address, so calls to one function repeat the
// same bytes. Only displacements in [-2^24, 2^24) (top byte 00 or FF) are
// changed, as 25-bit values modulo 2^25 whose top byte stays 00 or FF. For
// the inverse to visit the same positions, the bytes a rejected E8/E9 looked
// at must stay as they were: no position within 3 bytes after a rejected
// E8/E9 is transformed (its displacement would overlap that top byte).

void x86_transform(std::uint8_t* b, std::size_t n, bool forward) {
  std::size_t blocked_until = 0;  // positions below this are not transformed
  for (std::size_t i = 0; i + 5 <= n;) {
    if (b[i] != 0xE8 && b[i] != 0xE9) {
      ++i;
      continue;
    }
    if (i < blocked_until || (b[i + 4] != 0x00 && b[i + 4] != 0xFF)) {
      blocked_until = std::max(blocked_until, i + 4);
      ++i;
      continue;
    }
    const std::uint32_t v = static_cast<std::uint32_t>(b[i + 1]) | static_cast<std::uint32_t>(b[i + 2]) << 8 |
                            static_cast<std::uint32_t>(b[i + 3]) << 16 |
                            (b[i + 4] == 0xFF ? std::uint32_t{1} << 24 : 0);
    const std::uint32_t at = static_cast<std::uint32_t>(i);
    const std::uint32_t r = (forward ? v + at : v - at) & 0x1FFFFFFu;
    b[i + 1] = static_cast<std::uint8_t>(r);
    b[i + 2] = static_cast<std::uint8_t>(r >> 8);
    b[i + 3] = static_cast<std::uint8_t>(r >> 16);
    b[i + 4] = (r >> 24) ? 0xFF : 0x00;
    i += 5;
  }
}

// Looks like x86 code: many E8 calls whose target lies inside the buffer.
bool looks_like_x86(const std::uint8_t* b, std::size_t n) {
  std::size_t calls = 0;
  for (std::size_t i = 0; i + 5 <= n; ++i) {
    if (b[i] != 0xE8 || (b[i + 4] != 0x00 && b[i + 4] != 0xFF)) continue;
    const std::uint32_t v = static_cast<std::uint32_t>(b[i + 1]) | static_cast<std::uint32_t>(b[i + 2]) << 8 |
                            static_cast<std::uint32_t>(b[i + 3]) << 16 | static_cast<std::uint32_t>(b[i + 4]) << 24;
    const std::int64_t rel = v >= 0x80000000u ? static_cast<std::int64_t>(v) - (std::int64_t{1} << 32) : v;
    const std::int64_t target = static_cast<std::int64_t>(i) + 5 + rel;
    if (rel != 0 && target >= 0 && target < static_cast<std::int64_t>(n)) ++calls;
  }
  return calls >= 16 && calls * 400 >= n;
}

}  // namespace

std::uint64_t context_mixing_bytes(std::size_t size) {
  const std::uint64_t model = Model::model_bytes(sizes_for(size)) + sizeof(Model) + sizeof(Tables);
  // The encoder also holds a copy of the input and the payload.
  return model + size + (size + size / 64 + 64);
}

std::vector<std::uint8_t> context_mixing_encode(const std::uint8_t* data, std::size_t size,
                                                BytePredictions* network) {
  if (data == nullptr || size == 0 || size > kContextMixingMaxBytes)
    throw std::invalid_argument("context_mixing_encode: need 1 <= size <= kContextMixingMaxBytes");
  std::vector<std::uint8_t> buf(data, data + size);
  const bool x86 = looks_like_x86(buf.data(), size);
  if (x86) x86_transform(buf.data(), size, true);
  std::vector<std::uint8_t> out;
  out.reserve(size + size / 64 + 64);
  out.push_back(kFormatVersion);
  out.push_back(static_cast<std::uint8_t>((x86 ? kFlagX86 : 0) | (network ? kFlagNetwork : 0)));
  BitEncoder enc(out);
  auto model = std::make_unique<Model>(buf.data(), size, network);
  for (std::size_t i = 0; i < size; ++i) {
    const int c = buf[i];
    for (int k = 7; k >= 0; --k) {
      const int bit = (c >> k) & 1;
      enc.encode(bit, model->p());
      model->update(bit);
    }
  }
  enc.finish();
  return out;
}

bool context_mixing_decode(const std::uint8_t* payload, std::size_t payload_size, std::uint8_t* out,
                           std::size_t original_size, std::string* why, BytePredictions* network) {
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (original_size == 0 || original_size > kContextMixingMaxBytes)
    return fail("context mixing: original size outside [1, 16 MiB]");
  if (payload == nullptr || out == nullptr) return fail("context mixing: null buffer");
  if (payload_size < kHeaderBytes) return fail("context mixing: payload shorter than its header");
  if (payload[0] != kFormatVersion) return fail("context mixing: unknown format version");
  if ((payload[1] & ~(kFlagX86 | kFlagNetwork)) != 0) return fail("context mixing: unknown flags");
  if (((payload[1] & kFlagNetwork) != 0) != (network != nullptr))
    return fail(network ? "context mixing: the chunk was coded without a network"
                        : "context mixing: the chunk was coded with a network");
  try {
    BitDecoder dec(payload + kHeaderBytes, payload_size - kHeaderBytes);
    auto model = std::make_unique<Model>(out, original_size, network);
    for (std::size_t i = 0; i < original_size; ++i) {
      for (int k = 0; k < 8; ++k) model->update(dec.decode(model->p()));
      // A hostile payload runs past its end quickly; stop there.
      if ((i & 0xFFFF) == 0 && dec.overrun()) return fail("context mixing: coded stream ends early");
    }
    if (dec.overrun()) return fail("context mixing: coded stream ends early");
  } catch (const std::bad_alloc&) {
    return fail("context mixing: out of memory");
  } catch (const std::exception&) {
    return fail("context mixing: corrupt coded stream");
  }
  if (payload[1] & kFlagX86) x86_transform(out, original_size, false);
  return true;
}

}  // namespace lmzip

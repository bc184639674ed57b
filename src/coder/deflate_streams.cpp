#include "coder/deflate_streams.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <new>

#include "coder/context_mixing.h"

namespace lmzip {

namespace {

constexpr std::uint8_t kPayloadVersion = 1;
// Each table entry is at least this long (three one-byte varints, three
// parameter bytes): bounds the entries a payload can declare.
constexpr std::size_t kMinEntryBytes = 6;
// Deflate states kept for reuse (streams of one file mostly share their
// parameters); each takes under 400 KiB (memLevel 9, 32 KiB window).
constexpr std::size_t kCachedDeflaters = 4;
constexpr std::uint64_t kDeflaterBytes = 400u << 10;
// The search's work budget: bytes inflated plus bytes fed to trial deflates,
// each trial also charged kTrialCost for resetting its state, for the
// candidates and guesses that fail.
constexpr std::uint64_t kWorkPerInputByte = 8;
constexpr std::uint64_t kWorkBase = 8u << 20;
constexpr std::uint64_t kTrialCost = 4u << 10;
// The search stops after this many complete streams that no guess reproduced
// while they outnumber the reproduced ones four to one: another deflate made
// them (Info-ZIP, 7-Zip, libdeflate), and each costs up to 18 trials.
constexpr std::size_t kMaxIrreproducible = 16;
// A gzip header's name or comment is scanned this far for its terminating zero.
constexpr std::size_t kMaxGzipStringBytes = 4096;

bool valid_params(unsigned level, unsigned mem_level, unsigned window_bits) {
  return level >= 1 && level <= 9 && mem_level >= 1 && mem_level <= 9 && window_bits >= 9 && window_bits <= 15;
}

// Raw deflate states by parameters, reset between streams: deflateReset
// restores a fresh state without reallocating it.
class DeflaterCache {
 public:
  // A state ready for a new stream with these parameters, or nullptr where
  // zlib refuses them or has no memory.
  z_stream* get(unsigned level, unsigned mem_level, unsigned window_bits) {
    const unsigned key = level << 8 | mem_level << 4 | window_bits;
    ++clock_;
    for (Entry& e : entries_) {
      if (e.key != key) continue;
      e.used = clock_;
      return deflateReset(e.stream.get()) == Z_OK ? e.stream.get() : nullptr;
    }
    if (entries_.size() == kCachedDeflaters)
      entries_.erase(std::min_element(entries_.begin(), entries_.end(),
                                      [](const Entry& a, const Entry& b) { return a.used < b.used; }));
    // On the heap: zlib's state points back at its z_stream, which must not move.
    auto stream = std::unique_ptr<z_stream, Ender>(new z_stream{});
    if (deflateInit2(stream.get(), static_cast<int>(level), Z_DEFLATED, -static_cast<int>(window_bits),
                     static_cast<int>(mem_level), Z_DEFAULT_STRATEGY) != Z_OK)
      return nullptr;  // (deflateEnd of a state zlib refused is harmless)
    entries_.push_back({key, clock_, std::move(stream)});
    return entries_.back().stream.get();
  }

 private:
  struct Ender {
    void operator()(z_stream* z) const {
      deflateEnd(z);
      delete z;
    }
  };
  struct Entry {
    unsigned key = 0;
    std::uint64_t used = 0;
    std::unique_ptr<z_stream, Ender> stream;
  };
  std::vector<Entry> entries_;
  std::uint64_t clock_ = 0;
};

// Deflates in[0, in_size) with the stream's parameters, checking the output
// against want[0, want_size) as it comes (a wrong guess fails at its first
// differing byte). *fed: the input bytes deflate read.
bool deflate_matches(DeflaterCache& cache, const DeflateStream& s, const std::uint8_t* in, std::size_t in_size,
                     const std::uint8_t* want, std::size_t want_size, std::uint64_t* fed) {
  z_stream* z = cache.get(s.level, s.mem_level, s.window_bits);
  if (z == nullptr) return false;
  z->next_in = const_cast<std::uint8_t*>(in);
  z->avail_in = static_cast<uInt>(in_size);
  std::size_t done = 0;
  std::array<std::uint8_t, 4096> buf;
  bool ok = false;
  while (true) {
    z->next_out = buf.data();
    z->avail_out = static_cast<uInt>(buf.size());
    const int r = deflate(z, Z_FINISH);
    const std::size_t got = buf.size() - z->avail_out;
    if (got > want_size - done || std::memcmp(buf.data(), want + done, got) != 0) break;
    done += got;
    if (r == Z_STREAM_END) {
      ok = done == want_size;
      break;
    }
    if (r != Z_OK) break;
  }
  *fed = z->total_in;
  return ok;
}

// Where a candidate stream's deflate data starts, and what its wrapper says
// of the parameters that made it.
struct Candidate {
  std::size_t start = 0;
  unsigned window_bits = 15;
  unsigned level_hint = 0;  // 0: none
};

// A zlib header (RFC 1950: deflate, window <= 32 KiB, no preset dictionary,
// check bits) at data[at]; its FLEVEL names the levels zlib writes it for.
bool zlib_candidate(const std::uint8_t* data, std::size_t size, std::size_t at, Candidate* c) {
  if (size - at < 3) return false;
  const unsigned cmf = data[at], flg = data[at + 1];
  if ((cmf & 0x0F) != 8 || (cmf >> 4) > 7 || (flg & 0x20) != 0 || (cmf << 8 | flg) % 31 != 0) return false;
  constexpr unsigned kLevelOfFlevel[4] = {1, 5, 6, 9};
  *c = {at + 2, std::max(9u, (cmf >> 4) + 8), kLevelOfFlevel[flg >> 6]};
  return true;
}

// A gzip member header (RFC 1952) at data[at]; XFL 2 and 4 name levels 9 and 1.
bool gzip_candidate(const std::uint8_t* data, std::size_t size, std::size_t at, Candidate* c) {
  if (size - at < 18 || data[at] != 0x1F || data[at + 1] != 0x8B || data[at + 2] != 8) return false;
  const unsigned flags = data[at + 3];
  if (flags & 0xE0) return false;
  std::size_t p = at + 10;
  if (flags & 0x04) {  // FEXTRA
    p += 2 + (data[p] | std::size_t{data[p + 1]} << 8);
  }
  for (unsigned bit : {0x08u, 0x10u}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & bit)) continue;
    const std::size_t end = std::min(size, p + kMaxGzipStringBytes);
    while (p < end && data[p] != 0) ++p;
    if (p >= end) return false;
    ++p;
  }
  if (flags & 0x02) p += 2;  // FHCRC
  if (p >= size) return false;
  *c = {p, 15, data[at + 8] == 2 ? 9u : data[at + 8] == 4 ? 1u : 0u};
  return true;
}

// A zip local file header (APPNOTE 4.3.7) of a deflated entry (method 8).
bool zip_candidate(const std::uint8_t* data, std::size_t size, std::size_t at, Candidate* c) {
  if (size - at < 30 || data[at] != 'P' || data[at + 1] != 'K' || data[at + 2] != 3 || data[at + 3] != 4) return false;
  if (data[at + 8] != 8 || data[at + 9] != 0) return false;
  const std::size_t start =
      at + 30 + (data[at + 26] | std::size_t{data[at + 27]} << 8) + (data[at + 28] | std::size_t{data[at + 29]} << 8);
  if (start >= size) return false;
  *c = {start, 15, 0};
  return true;
}

// Inflates raw deflate data from data[0, size) into *out while it stays
// within max_out bytes; the stream's compressed length, or 0 where it is not
// a complete stream.
class Inflater {
 public:
  Inflater() {
    if (inflateInit2(&z_, -15) != Z_OK) throw std::bad_alloc();
  }
  ~Inflater() { inflateEnd(&z_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  std::size_t inflate_one(const std::uint8_t* data, std::size_t size, std::size_t max_out,
                          std::vector<std::uint8_t>* out, std::uint64_t* work) {
    out->clear();
    if (inflateReset(&z_) != Z_OK) return 0;
    z_.next_in = const_cast<std::uint8_t*>(data);
    z_.avail_in = static_cast<uInt>(std::min<std::size_t>(size, UINT32_MAX));
    int r = Z_OK;
    while (r == Z_OK) {
      const std::size_t have = out->size();
      if (have >= max_out) break;
      // Grows as the stream proves itself: most false candidates fail within a few bytes.
      const std::size_t room = std::min(max_out - have, std::max<std::size_t>(have, 4096));
      if (out->capacity() < have + room) out->reserve(have + room);  // never past max_out
      out->resize(have + room);
      z_.next_out = out->data() + have;
      z_.avail_out = static_cast<uInt>(room);
      r = inflate(&z_, Z_NO_FLUSH);
      out->resize(have + room - z_.avail_out);
      if (r == Z_BUF_ERROR && z_.avail_out > 0) break;  // input ended mid-stream
      if (r == Z_BUF_ERROR) r = Z_OK;
    }
    *work += z_.total_in + z_.total_out;
    return r == Z_STREAM_END ? z_.total_in : 0;
  }

 private:
  z_stream z_{};
};

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  do {
    out.push_back(static_cast<std::uint8_t>((v & 0x7F) | (v > 0x7F ? 0x80 : 0)));
    v >>= 7;
  } while (v);
}

// LEB128 of at most 32 bits; false where it is truncated or longer.
bool get_varint(const std::uint8_t* p, std::size_t size, std::size_t* at, std::uint32_t* v) {
  std::uint64_t x = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (*at >= size) return false;
    const std::uint8_t b = p[(*at)++];
    x |= std::uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80)) {
      if (x > UINT32_MAX) return false;
      *v = static_cast<std::uint32_t>(x);
      return true;
    }
  }
  return false;
}

}  // namespace

InflatedBuffer inflate_streams(const std::uint8_t* data, std::size_t size, std::size_t max_bytes) {
  InflatedBuffer result;
  if (data == nullptr || size == 0) return result;
  max_bytes = std::min<std::size_t>(max_bytes, UINT32_MAX);
  Inflater inflater;
  DeflaterCache deflaters;
  const std::uint64_t budget = kWorkPerInputByte * size + kWorkBase;
  std::uint64_t work = 0;
  std::size_t copied = 0;      // data[0, copied) is in result.bytes or a stream
  std::size_t out_bytes = 0;   // result.bytes' size once all of data is in
  std::size_t extra = 0;       // inflated bytes beyond the compressed bytes they replace, so far
  std::vector<std::uint8_t> inflated;
  DeflateStream last{};        // the parameters that reproduced the last stream: tried first
  std::size_t at = 0;
  std::size_t irreproducible = 0;
  while (at < size && work < budget &&
         (irreproducible < kMaxIrreproducible || irreproducible <= 4 * result.streams.size())) {
    Candidate c;
    if (!zlib_candidate(data, size, at, &c) && !gzip_candidate(data, size, at, &c) &&
        !zip_candidate(data, size, at, &c)) {
      ++at;
      continue;
    }
    out_bytes = size + extra;
    const std::size_t room = max_bytes > out_bytes ? max_bytes - out_bytes : 0;
    const std::uint64_t work_before = work;
    const std::size_t compressed = inflater.inflate_one(data + c.start, size - c.start, room, &inflated, &work);
    if (compressed == 0) {
      ++at;
      continue;
    }
    // A complete stream, reproduced or not: nothing inside it is a header.
    at = c.start + compressed;
    if (compressed < kMinDeflateStreamBytes || compressed > UINT32_MAX || inflated.size() <= compressed) continue;
    ++irreproducible;  // until a guess reproduces it
    // The guesses: the last stream's, the wrapper's hint, then every level
    // at memLevel 8 (zlib's default) and 9.
    std::vector<DeflateStream> guesses;
    if (last.level != 0 && last.window_bits == c.window_bits) guesses.push_back(last);
    if (c.level_hint != 0) guesses.push_back({0, 0, 0, static_cast<std::uint8_t>(c.level_hint), 8, 0});
    for (unsigned mem : {8u, 9u})
      for (unsigned level : {9u, 6u, 1u, 2u, 3u, 4u, 5u, 7u, 8u})
        guesses.push_back({0, 0, 0, static_cast<std::uint8_t>(level), static_cast<std::uint8_t>(mem), 0});
    bool found = false;
    for (std::size_t g = 0; g < guesses.size() && !found && work < budget; ++g) {
      DeflateStream s = guesses[g];
      s.window_bits = static_cast<std::uint8_t>(c.window_bits);
      if (std::any_of(guesses.begin(), guesses.begin() + static_cast<std::ptrdiff_t>(g),
                      [&](const DeflateStream& o) { return o.level == s.level && o.mem_level == s.mem_level; }))
        continue;
      std::uint64_t fed = 0;
      found = deflate_matches(deflaters, s, inflated.data(), inflated.size(), data + c.start, compressed, &fed);
      work += fed + kTrialCost;
      if (found) {
        s.offset = c.start;
        s.compressed_size = static_cast<std::uint32_t>(compressed);
        s.inflated_size = static_cast<std::uint32_t>(inflated.size());
        last = s;
        // Doubling, but never past max_bytes (the caller's memory bound).
        const std::size_t need = result.bytes.size() + (c.start - copied) + inflated.size();
        if (result.bytes.capacity() < need)
          result.bytes.reserve(std::min(max_bytes, std::max(need, 2 * result.bytes.capacity())));
        result.bytes.insert(result.bytes.end(), data + copied, data + c.start);
        result.bytes.insert(result.bytes.end(), inflated.begin(), inflated.end());
        result.streams.push_back(s);
        copied = c.start + compressed;
        extra += inflated.size() - compressed;
        --irreproducible;
        // The budget is for work wasted: a reproduced stream's inflating and
        // deflating are bounded by the inflated bytes kept (max_bytes).
        work -= std::min(work - work_before, fed + kTrialCost + inflated.size() + compressed);
      }
    }
  }
  if (result.streams.empty()) return {};
  result.bytes.reserve(result.bytes.size() + (size - copied));
  result.bytes.insert(result.bytes.end(), data + copied, data + size);
  return result;
}

bool deflate_streams(const std::uint8_t* inflated, std::size_t inflated_size, const std::vector<DeflateStream>& streams,
                     std::uint8_t* out, std::size_t out_size, std::string* why) {
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  DeflaterCache deflaters;
  std::size_t from = 0, to = 0;  // read and write positions
  auto copy = [&](std::size_t count) {
    if (count > inflated_size - from || count > out_size - to) return false;
    std::memcpy(out + to, inflated + from, count);
    from += count;
    to += count;
    return true;
  };
  for (const DeflateStream& s : streams) {
    if (s.offset < to || !copy(s.offset - to)) return fail("deflate streams: stream offsets out of order or range");
    if (!valid_params(s.level, s.mem_level, s.window_bits)) return fail("deflate streams: parameters out of range");
    if (s.inflated_size > inflated_size - from || s.compressed_size > out_size - to)
      return fail("deflate streams: stream beyond the buffer");
    z_stream* z = deflaters.get(s.level, s.mem_level, s.window_bits);
    if (z == nullptr) return fail("deflate streams: zlib's deflate failed to start");
    z->next_in = const_cast<std::uint8_t*>(inflated + from);
    z->avail_in = s.inflated_size;
    z->next_out = out + to;
    z->avail_out = s.compressed_size;
    const int r = deflate(z, Z_FINISH);
    bool exact = r == Z_STREAM_END && z->avail_out == 0;
    if (r == Z_OK && z->avail_out == 0) {
      // Output that fills the room exactly ends with Z_OK: the next call
      // ends the stream without writing the spare byte unless more was due.
      std::uint8_t spare = 0;
      z->next_out = &spare;
      z->avail_out = 1;
      exact = deflate(z, Z_FINISH) == Z_STREAM_END && z->avail_out == 1;
    }
    if (!exact) return fail("deflate streams: a stream does not deflate to its recorded length");
    from += s.inflated_size;
    to += s.compressed_size;
  }
  if (inflated_size - from != out_size - to || !copy(out_size - to))
    return fail("deflate streams: sizes do not add up");
  return true;
}

std::vector<std::uint8_t> inflated_context_mixing_encode(const InflatedBuffer& inflated) {
  if (inflated.streams.empty() || inflated.bytes.empty() || inflated.bytes.size() > kContextMixingMaxBytes) return {};
  std::vector<std::uint8_t> out;
  out.push_back(kPayloadVersion);
  put_varint(out, inflated.streams.size());
  std::size_t end = 0;  // of the stream before, in the original
  for (const DeflateStream& s : inflated.streams) {
    put_varint(out, s.offset - end);
    put_varint(out, s.compressed_size);
    put_varint(out, s.inflated_size);
    out.insert(out.end(), {s.level, s.mem_level, s.window_bits});
    end = s.offset + s.compressed_size;
  }
  put_varint(out, inflated.bytes.size());
  const std::vector<std::uint8_t> mixed = context_mixing_encode(inflated.bytes.data(), inflated.bytes.size());
  out.insert(out.end(), mixed.begin(), mixed.end());
  return out;
}

bool read_inflated_header(const std::uint8_t* payload, std::size_t payload_size, std::size_t original_size,
                          InflatedHeader* header, std::string* why) {
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (payload == nullptr || payload_size < 2) return fail("inflated context mixing: payload shorter than its header");
  if (payload[0] != kPayloadVersion) return fail("inflated context mixing: unknown format version");
  std::size_t at = 1;
  std::uint32_t count = 0;
  if (!get_varint(payload, payload_size, &at, &count)) return fail("inflated context mixing: bad stream count");
  if (count == 0 || count > original_size / kMinDeflateStreamBytes || count > payload_size / kMinEntryBytes)
    return fail("inflated context mixing: stream count out of range");
  header->streams.clear();
  header->streams.reserve(count);
  std::uint64_t end = 0;       // of the stream before, in the original
  std::uint64_t inflated = 0;  // the swapped buffer's size so far
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t gap = 0, compressed = 0, expanded = 0;
    if (!get_varint(payload, payload_size, &at, &gap) || !get_varint(payload, payload_size, &at, &compressed) ||
        !get_varint(payload, payload_size, &at, &expanded) || payload_size - at < 3)
      return fail("inflated context mixing: truncated stream table");
    DeflateStream s;
    s.level = payload[at];
    s.mem_level = payload[at + 1];
    s.window_bits = payload[at + 2];
    at += 3;
    if (!valid_params(s.level, s.mem_level, s.window_bits))
      return fail("inflated context mixing: deflate parameters out of range");
    if (compressed < kMinDeflateStreamBytes || expanded == 0)
      return fail("inflated context mixing: stream sizes out of range");
    if (std::uint64_t{gap} + compressed > original_size - end)
      return fail("inflated context mixing: stream beyond the chunk");
    inflated += std::uint64_t{gap} + expanded;
    if (inflated > kContextMixingMaxBytes) return fail("inflated context mixing: inflated size over 16 MiB");
    s.offset = static_cast<std::size_t>(end + gap);
    s.compressed_size = compressed;
    s.inflated_size = expanded;
    end += std::uint64_t{gap} + compressed;
    header->streams.push_back(s);
  }
  inflated += original_size - end;
  std::uint32_t declared = 0;
  if (!get_varint(payload, payload_size, &at, &declared)) return fail("inflated context mixing: bad inflated size");
  if (declared != inflated || inflated > kContextMixingMaxBytes)
    return fail("inflated context mixing: inflated size does not match its streams");
  if (at >= payload_size) return fail("inflated context mixing: no coded bytes");
  header->inflated_size = static_cast<std::size_t>(inflated);
  header->header_size = at;
  return true;
}

std::uint64_t inflated_context_mixing_bytes(std::size_t inflated_size) {
  return context_mixing_bytes(inflated_size) + inflated_size + kCachedDeflaters * kDeflaterBytes;
}

bool inflated_context_mixing_decode(const std::uint8_t* payload, std::size_t payload_size, std::uint8_t* out,
                                    std::size_t original_size, std::string* why) {
  InflatedHeader header;
  if (!read_inflated_header(payload, payload_size, original_size, &header, why)) return false;
  try {
    std::vector<std::uint8_t> inflated(header.inflated_size);
    if (!context_mixing_decode(payload + header.header_size, payload_size - header.header_size, inflated.data(),
                               inflated.size(), why))
      return false;
    return deflate_streams(inflated.data(), inflated.size(), header.streams, out, original_size, why);
  } catch (const std::bad_alloc&) {
    if (why) *why = "inflated context mixing: out of memory";
    return false;
  }
}

}  // namespace lmzip

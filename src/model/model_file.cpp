// Reading, writing and checking model files (docs/model-format.md). The reader
// treats its input as hostile: every count is checked against its documented
// range and against the bytes left before anything is allocated.
#include "model/model_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "model/int_ops.h"

namespace lmzip {
namespace {

constexpr char kMagic[4] = {'L', 'M', 'Z', 'M'};
constexpr std::uint32_t kVersion = 1;
// Limits the spec leaves open (docs/model-format.md, "Decisions").
constexpr std::size_t kMaxNameBytes = 255;
constexpr std::size_t kMaxPieceBytes = 1024;
constexpr std::uint32_t kMaxSelftestSymbols = 4096;
using intops::kResidualLimit;
using intops::round_shift;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw std::runtime_error("model file: " + field + ": " + problem);
}

std::string at(const std::string& field, std::size_t index) {
  return field + "[" + std::to_string(index) + "]";
}

void check_range(const std::string& field, std::uint64_t value, std::uint64_t lo, std::uint64_t hi) {
  if (value < lo || value > hi) {
    fail(field, std::to_string(value) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  }
}

}  // namespace

void validate_config(const ModelConfig& c) {
  check_range("vocab_size", c.vocab_size, 2, 65536);
  check_range("width", c.width, 8, 4096);
  if (c.width % 8 != 0) fail("width", std::to_string(c.width) + " is not a multiple of 8");
  check_range("layers", c.layers, 1, 64);
  check_range("heads", c.heads, 1, 64);
  check_range("kv_heads", c.kv_heads, 1, c.heads);
  if (c.heads % c.kv_heads != 0) {
    fail("kv_heads", std::to_string(c.kv_heads) + " does not divide heads (" + std::to_string(c.heads) + ")");
  }
  check_range("head_dim", c.head_dim, 4, 256);
  check_range("ffn", c.ffn, 8, 16384);
  // The CPU sums attention in int32: sum p * v < 4096 * 127 * window < 2^31
  // holds for windows up to kMaxWindow (docs/model-format.md).
  check_range("window", c.window, 1, kMaxWindow);
  check_range("chunk_bytes", c.chunk_bytes, 1024, 16u << 20);
}

namespace {

void check_gains(const std::string& field, const std::vector<std::int32_t>& gains, std::size_t size) {
  if (gains.size() != size) {
    fail(field, "has " + std::to_string(gains.size()) + " entries, expected " + std::to_string(size));
  }
  for (std::size_t i = 0; i < gains.size(); ++i) {
    if (gains[i] < 0) fail(at(field, i), "negative (" + std::to_string(gains[i]) + ")");
  }
}

void check_shift(const std::string& field, std::uint32_t shift) { check_range(field, shift, 1, 62); }

void check_linear(const std::string& field, const QuantLinear& l, std::uint32_t out, std::uint32_t in) {
  if (l.out != out) fail(field + ".out", std::to_string(l.out) + ", expected " + std::to_string(out));
  if (l.in != in) fail(field + ".in", std::to_string(l.in) + ", expected " + std::to_string(in));
  check_shift(field + ".shift", l.shift);
  if (l.weight.size() != std::size_t{out} * in) {
    fail(field + ".weight", "has " + std::to_string(l.weight.size()) + " entries, expected " +
                                std::to_string(std::size_t{out} * in));
  }
  for (std::size_t i = 0; i < l.weight.size(); ++i) {
    if (l.weight[i] == -128) fail(at(field + ".weight", i), "-128 (weights are in -127..127)");
  }
  check_gains(field + ".multiplier", l.multiplier, out);
}

// The embedding is the one place where a value enters r without a clamp; r
// never leaves [-2^24, 2^24] (residual_add clamps there), so it fits an int32.
void check_embedding_range(const QuantLinear& e) {
  for (std::uint32_t row = 0; row < e.out; ++row) {
    const std::int8_t* w = e.weight.data() + std::size_t{row} * e.in;
    std::int64_t lo = 0, hi = 0;
    for (std::uint32_t c = 0; c < e.in; ++c) {
      lo = std::min<std::int64_t>(lo, w[c]);
      hi = std::max<std::int64_t>(hi, w[c]);
    }
    const std::int64_t m = e.multiplier[row];
    if (round_shift(lo * m, e.shift) < -kResidualLimit || round_shift(hi * m, e.shift) > kResidualLimit) {
      fail(at("embedding.multiplier", row), std::to_string(m) + " puts the embedding outside +-2^24");
    }
  }
}

// Appends little-endian fields.
class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i32s(const std::vector<std::int32_t>& v) {
    for (std::int32_t x : v) u32(static_cast<std::uint32_t>(x));
  }
  void raw(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  void bytes(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  void linear(const QuantLinear& l) {
    u32(l.out);
    u32(l.in);
    u8(l.shift);
    raw(l.weight.data(), l.weight.size());
    i32s(l.multiplier);
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
};

// Reads little-endian fields; every read names its field so that a short file
// reports where it ended.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), left_(size) {}

  std::size_t left() const { return left_; }

  // Throws unless count items of item_size bytes remain; call before allocating.
  void need(const std::string& field, std::uint64_t count, std::uint64_t item_size) {
    // count <= 2^32 and item_size <= 4 here, so the product cannot overflow.
    const std::uint64_t bytes = count * item_size;
    if (bytes > left_) {
      fail(field, "truncated (needs " + std::to_string(bytes) + " bytes, " + std::to_string(left_) + " left)");
    }
  }
  std::uint8_t u8(const std::string& field) {
    need(field, 1, 1);
    --left_;
    return *p_++;
  }
  std::uint32_t u32(const std::string& field) {
    need(field, 1, 4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{p_[i]} << (8 * i);
    p_ += 4;
    left_ -= 4;
    return v;
  }
  void raw(const std::string& field, void* out, std::size_t size) {
    need(field, size, 1);
    if (size != 0) std::memcpy(out, p_, size);
    p_ += size;
    left_ -= size;
  }
  std::string bytes(const std::string& field, std::size_t max_size) {
    const std::uint32_t size = u32(field + " length");
    check_range(field + " length", size, 0, max_size);
    return take_string(field, size);
  }
  // The piece table is the one long list of strings: name the entry only when
  // it is bad, since building thousands of field names would dominate parsing.
  std::string piece(std::uint32_t index) {
    if (left_ < 4) return bytes(at("pieces", index), kMaxPieceBytes);  // throws
    const std::uint32_t size = u32("pieces");
    if (size > kMaxPieceBytes || size > left_) {
      check_range(at("pieces", index) + " length", size, 0, kMaxPieceBytes);
      need(at("pieces", index), size, 1);
    }
    return take_string("pieces", size);
  }
  std::vector<std::int32_t> i32s(const std::string& field, std::uint32_t count) {
    need(field, count, 4);
    std::vector<std::int32_t> v(count);
    for (auto& x : v) x = static_cast<std::int32_t>(u32(field));
    return v;
  }
  std::string take_string(const std::string& field, std::uint32_t size) {
    need(field, size, 1);
    std::string s(reinterpret_cast<const char*>(p_), size);
    p_ += size;
    left_ -= size;
    return s;
  }
  // Reads a linear whose shape the header already fixed.
  QuantLinear linear(const std::string& field, std::uint32_t out, std::uint32_t in) {
    QuantLinear l;
    l.out = u32(field + ".out");
    if (l.out != out) fail(field + ".out", std::to_string(l.out) + ", expected " + std::to_string(out));
    l.in = u32(field + ".in");
    if (l.in != in) fail(field + ".in", std::to_string(l.in) + ", expected " + std::to_string(in));
    l.shift = u8(field + ".shift");
    check_shift(field + ".shift", l.shift);
    const std::size_t count = std::size_t{out} * in;
    need(field + ".weight", count, 1);
    l.weight.resize(count);
    raw(field + ".weight", l.weight.data(), count);
    l.multiplier = i32s(field + ".multiplier", out);
    return l;
  }

 private:
  const std::uint8_t* p_;
  std::size_t left_;
};

std::string layer_field(std::size_t layer, const char* name) {
  return "layers[" + std::to_string(layer) + "]." + name;
}

}  // namespace

void ModelFile::validate() const {
  validate_config(config);
  const ModelConfig& c = config;
  if (name.size() > kMaxNameBytes) fail("name", "longer than " + std::to_string(kMaxNameBytes) + " bytes");
  if (description.size() > std::numeric_limits<std::uint32_t>::max()) fail("description", "too long");
  if (sentencepiece_model.size() > std::numeric_limits<std::uint32_t>::max()) fail("sentencepiece_model", "too long");

  if (tokenizer != TokenizerKind::Bytes && tokenizer != TokenizerKind::SentencePiece) {
    fail("tokenizer", "unknown kind " + std::to_string(static_cast<int>(tokenizer)));
  }
  if (pieces.size() != c.vocab_size) {
    fail("pieces", "has " + std::to_string(pieces.size()) + " entries, expected vocab_size " +
                       std::to_string(c.vocab_size));
  }
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].size() > kMaxPieceBytes) fail(at("pieces", i), "longer than " + std::to_string(kMaxPieceBytes) + " bytes");
  }
  if (piece_scores.size() != c.vocab_size) {
    fail("piece_scores", "has " + std::to_string(piece_scores.size()) + " entries, expected vocab_size " +
                             std::to_string(c.vocab_size));
  }
  if (tokenizer == TokenizerKind::Bytes) {
    if (c.vocab_size != 256) fail("vocab_size", std::to_string(c.vocab_size) + ", a byte model has 256");
    if (!sentencepiece_model.empty()) fail("sentencepiece_model", "not empty in a byte model");
    for (std::size_t i = 0; i < 256; ++i) {
      if (pieces[i] != std::string(1, static_cast<char>(i))) fail(at("pieces", i), "not the single byte " + std::to_string(i));
    }
  }

  const std::uint32_t qdim = c.heads * c.head_dim;
  const std::uint32_t kvdim = c.kv_heads * c.head_dim;
  check_linear("embedding", embedding, c.vocab_size + 1, c.width);
  check_embedding_range(embedding);
  if (layers.size() != c.layers) {
    fail("layers", "has " + std::to_string(layers.size()) + " entries, expected " + std::to_string(c.layers));
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerWeights& l = layers[i];
    check_gains(layer_field(i, "attn_norm"), l.attn_norm, c.width);
    check_linear(layer_field(i, "wq"), l.wq, qdim, c.width);
    check_linear(layer_field(i, "wk"), l.wk, kvdim, c.width);
    check_linear(layer_field(i, "wv"), l.wv, kvdim, c.width);
    check_linear(layer_field(i, "wo"), l.wo, c.width, qdim);
    check_shift(layer_field(i, "score_shift"), l.attention.score_shift);
    check_gains(layer_field(i, "score_multiplier"), l.attention.score_multiplier, c.heads);
    check_gains(layer_field(i, "slope"), l.attention.slope, c.heads);
    check_gains(layer_field(i, "ffn_norm"), l.ffn_norm, c.width);
    check_linear(layer_field(i, "w1"), l.w1, c.ffn, c.width);
    check_linear(layer_field(i, "w2"), l.w2, c.width, c.ffn);
  }
  check_gains("final_norm", final_norm, c.width);
  check_linear("output", output, c.vocab_size, c.width);

  check_range("selftest_symbols count", selftest_symbols.size(), 1, kMaxSelftestSymbols);
  for (std::size_t i = 0; i < selftest_symbols.size(); ++i) {
    if (selftest_symbols[i] >= c.vocab_size) {
      fail(at("selftest_symbols", i), std::to_string(selftest_symbols[i]) + " is not below vocab_size " +
                                          std::to_string(c.vocab_size));
    }
  }
}

std::vector<std::uint8_t> ModelFile::serialize() const {
  validate();
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(kVersion);
  for (std::uint32_t v : {config.vocab_size, config.width, config.layers, config.heads, config.kv_heads,
                          config.head_dim, config.ffn, config.window, config.chunk_bytes}) {
    w.u32(v);
  }
  w.bytes(name);
  w.bytes(description);
  w.u8(static_cast<std::uint8_t>(tokenizer));
  w.bytes(sentencepiece_model);
  w.u32(static_cast<std::uint32_t>(pieces.size()));
  for (const auto& p : pieces) w.bytes(p);
  w.i32s(piece_scores);
  w.linear(embedding);
  for (const LayerWeights& l : layers) {
    w.i32s(l.attn_norm);
    w.linear(l.wq);
    w.linear(l.wk);
    w.linear(l.wv);
    w.linear(l.wo);
    w.u8(l.attention.score_shift);
    w.i32s(l.attention.score_multiplier);
    w.i32s(l.attention.slope);
    w.i32s(l.ffn_norm);
    w.linear(l.w1);
    w.linear(l.w2);
  }
  w.i32s(final_norm);
  w.linear(output);
  w.u32(static_cast<std::uint32_t>(selftest_symbols.size()));
  for (std::uint32_t s : selftest_symbols) w.u32(s);
  w.raw(selftest_digest.data(), selftest_digest.size());
  return w.take();
}

ModelFile ModelFile::parse(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  ModelFile m;
  char magic[4];
  in.raw("magic", magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) fail("magic", "not an lmzip model (expected LMZM)");
  const std::uint32_t version = in.u32("version");
  if (version != kVersion) {
    fail("version", std::to_string(version) + " is not supported (this program reads version " +
                        std::to_string(kVersion) + ")");
  }
  ModelConfig& c = m.config;
  c.vocab_size = in.u32("vocab_size");
  c.width = in.u32("width");
  c.layers = in.u32("layers");
  c.heads = in.u32("heads");
  c.kv_heads = in.u32("kv_heads");
  c.head_dim = in.u32("head_dim");
  c.ffn = in.u32("ffn");
  c.window = in.u32("window");
  c.chunk_bytes = in.u32("chunk_bytes");
  // Everything below is sized by these, so check them before reading on.
  validate_config(c);

  m.name = in.bytes("name", kMaxNameBytes);
  m.description = in.bytes("description", std::numeric_limits<std::uint32_t>::max());
  const std::uint8_t tokenizer = in.u8("tokenizer");
  if (tokenizer > 1) fail("tokenizer", "unknown kind " + std::to_string(tokenizer));
  m.tokenizer = static_cast<TokenizerKind>(tokenizer);
  m.sentencepiece_model = in.bytes("sentencepiece_model", std::numeric_limits<std::uint32_t>::max());

  const std::uint32_t piece_count = in.u32("pieces count");
  if (piece_count != c.vocab_size) {
    fail("pieces count", std::to_string(piece_count) + ", expected vocab_size " + std::to_string(c.vocab_size));
  }
  in.need("pieces", piece_count, 4);  // each piece has at least its length
  m.pieces.reserve(piece_count);
  for (std::uint32_t i = 0; i < piece_count; ++i) m.pieces.push_back(in.piece(i));
  m.piece_scores = in.i32s("piece_scores", c.vocab_size);

  const std::uint32_t qdim = c.heads * c.head_dim;
  const std::uint32_t kvdim = c.kv_heads * c.head_dim;
  m.embedding = in.linear("embedding", c.vocab_size + 1, c.width);
  m.layers.resize(c.layers);
  for (std::size_t i = 0; i < c.layers; ++i) {
    LayerWeights& l = m.layers[i];
    l.attn_norm = in.i32s(layer_field(i, "attn_norm"), c.width);
    l.wq = in.linear(layer_field(i, "wq"), qdim, c.width);
    l.wk = in.linear(layer_field(i, "wk"), kvdim, c.width);
    l.wv = in.linear(layer_field(i, "wv"), kvdim, c.width);
    l.wo = in.linear(layer_field(i, "wo"), c.width, qdim);
    l.attention.score_shift = in.u8(layer_field(i, "score_shift"));
    l.attention.score_multiplier = in.i32s(layer_field(i, "score_multiplier"), c.heads);
    l.attention.slope = in.i32s(layer_field(i, "slope"), c.heads);
    l.ffn_norm = in.i32s(layer_field(i, "ffn_norm"), c.width);
    l.w1 = in.linear(layer_field(i, "w1"), c.ffn, c.width);
    l.w2 = in.linear(layer_field(i, "w2"), c.width, c.ffn);
  }
  m.final_norm = in.i32s("final_norm", c.width);
  m.output = in.linear("output", c.vocab_size, c.width);

  const std::uint32_t n = in.u32("selftest_symbols count");
  check_range("selftest_symbols count", n, 1, kMaxSelftestSymbols);
  in.need("selftest_symbols", n, 4);
  m.selftest_symbols.resize(n);
  for (auto& s : m.selftest_symbols) s = in.u32("selftest_symbols");
  in.raw("selftest_digest", m.selftest_digest.data(), m.selftest_digest.size());
  if (in.left() != 0) fail("end", std::to_string(in.left()) + " trailing bytes after selftest_digest");

  m.validate();
  return m;
}

ModelFile ModelFile::load(const std::string& path, Sha256Digest* id) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("model file: cannot open " + path + ": " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) bytes.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("model file: cannot read " + path + ": " + std::strerror(err));
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  ::close(fd);
  ModelFile m = parse(bytes.data(), bytes.size());
  if (id) *id = sha256(bytes.data(), bytes.size());
  return m;
}

void ModelFile::save(const std::string& path) const {
  const std::vector<std::uint8_t> bytes = serialize();
  // A unique name beside the target, so that the rename stays in one file system.
  static std::atomic<unsigned> counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt > 100)) {
      throw std::runtime_error("model file: cannot create " + temp + ": " + std::strerror(errno));
    }
  }
  auto abandon = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error(std::string("model file: cannot ") + what + " " + temp + ": " + std::strerror(err));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t put = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) abandon("write");
    done += static_cast<std::size_t>(put);
  }
  if (::fsync(fd) != 0) abandon("sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("model file: cannot write " + temp + ": " + std::strerror(err));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("model file: cannot rename " + temp + " to " + path + ": " + std::strerror(err));
  }
  // Make the rename itself durable; failing here loses nothing already written.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace lmzip

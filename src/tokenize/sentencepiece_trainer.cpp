#include "tokenize/sentencepiece_trainer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace lmzip {

namespace {

namespace fs = std::filesystem;

// Runs a program with these arguments (no shell) and waits for it.
void run_program(const std::vector<std::string>& args, const std::string& directory, const std::string& log_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, directory.c_str());
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error(args[0] + " could not be started (install Debian's sentencepiece package)");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream log(log_path);
    std::string text((std::istreambuf_iterator<char>(log)), {});
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    throw std::runtime_error(args[0] + " failed:\n" + text);
  }
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// SentencePiece's piece types (sentencepiece_model.proto).
enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// The bytes a piece stands for: control pieces none, <0xNN> one byte, U+2581 a space.
std::string piece_bytes(const std::string& piece, std::uint64_t type) {
  if (type == kUnknown || type == kControl) return "";
  if (type == kByte) {
    if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>')
      throw std::runtime_error("bad byte piece " + piece);
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  std::string out;
  const std::string space_mark = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, space_mark) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

// The protobuf wire format, as much as a ModelProto needs; throws on anything malformed.
class ProtoReader {
 public:
  ProtoReader(const char* data, std::size_t size) : p_(data), end_(data + size) {}
  bool done() const { return p_ == end_; }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw std::runtime_error("truncated");
      const auto byte = static_cast<std::uint8_t>(*p_++);
      v |= std::uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return v;
    }
    throw std::runtime_error("bad varint");
  }
  // The next field's tag: (number << 3) | wire type.
  std::uint64_t tag() { return varint(); }
  // A length-delimited field's bytes.
  std::string bytes() {
    const std::uint64_t n = varint();
    if (n > static_cast<std::uint64_t>(end_ - p_)) throw std::runtime_error("truncated");
    std::string out(p_, n);
    p_ += n;
    return out;
  }
  float fixed32_float() {
    if (end_ - p_ < 4) throw std::runtime_error("truncated");
    std::uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) bits |= std::uint32_t{static_cast<std::uint8_t>(p_[i])} << (8 * i);
    p_ += 4;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  void skip(std::uint64_t tag) {
    switch (tag & 7) {
      case 0: varint(); break;
      case 1: advance(8); break;
      case 2: bytes(); break;
      case 5: advance(4); break;
      default: throw std::runtime_error("bad wire type");
    }
  }

 private:
  void advance(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) throw std::runtime_error("truncated");
    p_ += n;
  }
  const char* p_;
  const char* end_;
};

// Writes the training sample: lines of the files, each kept with probability
// max_sentences / total (our own generator, so the seed decides the sample:
// spm_train's own sampling ignores --random_seed), long lines cut into parts
// spm_train accepts.
void write_sample(const std::vector<std::string>& files, std::uint64_t max_sentences, std::uint64_t seed,
                  const fs::path& out_path) {
  constexpr std::size_t kMaxLine = 4096;
  std::vector<std::string> lines;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw std::runtime_error("sentencepiece: cannot read " + f);
    std::string line;
    while (std::getline(in, line)) {
      for (std::size_t at = 0; at < line.size(); at += kMaxLine) lines.push_back(line.substr(at, kMaxLine));
    }
  }
  std::ofstream out(out_path, std::ios::binary);
  std::uint64_t state = seed ^ 0x9E3779B97F4A7C15ull;
  auto next = [&state] {  // splitmix64
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  const bool all = max_sentences == 0 || max_sentences >= lines.size();
  for (const auto& line : lines) {
    if (line.empty()) continue;
    if (all || (next() % lines.size()) < max_sentences) out << line << '\n';
  }
  if (!out) throw std::runtime_error("sentencepiece: cannot write the training sample");
}

}  // namespace

SentencePieceVocab read_sentencepiece_model(std::string model_proto) {
  SentencePieceVocab v;
  std::vector<bool> is_byte;
  std::uint64_t model_type = 1, byte_fallback = 0;  // proto defaults: unigram, no byte fallback
  try {
    ProtoReader model(model_proto.data(), model_proto.size());
    while (!model.done()) {
      const std::uint64_t tag = model.tag();
      if (tag == (1 << 3 | 2)) {  // ModelProto.pieces
        const std::string bytes = model.bytes();
        ProtoReader piece(bytes.data(), bytes.size());
        std::string text;
        float score = 0;
        std::uint64_t type = kNormal;
        while (!piece.done()) {
          const std::uint64_t field = piece.tag();
          if (field == (1 << 3 | 2)) text = piece.bytes();
          else if (field == (2 << 3 | 5)) score = piece.fixed32_float();
          else if (field == (3 << 3 | 0)) type = piece.varint();
          else piece.skip(field);
        }
        v.pieces.push_back(piece_bytes(text, type));
        v.scores.push_back(static_cast<std::int32_t>(std::lround(double(score) * 1024)));
        is_byte.push_back(type == kByte);
      } else if (tag == (2 << 3 | 2)) {  // ModelProto.trainer_spec
        const std::string bytes = model.bytes();
        ProtoReader spec(bytes.data(), bytes.size());
        while (!spec.done()) {
          const std::uint64_t field = spec.tag();
          if (field == (3 << 3 | 0)) model_type = spec.varint();
          else if (field == (35 << 3 | 0)) byte_fallback = spec.varint();
          else spec.skip(field);
        }
      } else {
        model.skip(tag);
      }
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("not a SentencePiece model (") + e.what() + ")");
  }
  if (v.pieces.empty()) throw std::runtime_error("not a SentencePiece model (no pieces)");
  if (model_type != 1) throw std::runtime_error("not a unigram SentencePiece model (train with --model_type=unigram)");
  if (!byte_fallback || std::count(is_byte.begin(), is_byte.end(), true) != 256)
    throw std::runtime_error("a SentencePiece model without byte fallback (train with --byte_fallback=true)");
  // SentencePiece gives byte pieces score 0 and uses them only for unknown
  // characters; for the Viterbi encoder they must cost more than any piece.
  std::int32_t lowest = 0;
  for (std::size_t i = 0; i < v.pieces.size(); ++i)
    if (!is_byte[i] && !v.pieces[i].empty()) lowest = std::min(lowest, v.scores[i]);
  for (std::size_t i = 0; i < v.pieces.size(); ++i)
    if (is_byte[i]) v.scores[i] = lowest - 10 * 1024;
  v.model_proto = std::move(model_proto);
  return v;
}

SentencePieceVocab train_sentencepiece(const std::vector<std::string>& files, std::uint32_t vocab_size,
                                       std::uint64_t max_sentences, std::uint64_t seed) {
  if (files.empty()) throw std::runtime_error("sentencepiece: no input files");
  char dir_template[] = "/tmp/lmzip-spm-XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("sentencepiece: cannot make a temporary directory");
  const fs::path dir(dir_template);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  write_sample(files, max_sentences, seed, dir / "sample.txt");
  // Relative names only, run inside dir: the model file spm_train writes
  // records them, and it must not depend on the temporary directory's name.
  const std::string log = (dir / "log.txt").string();
  // Unigram: its pieces carry log-probabilities, which the Viterbi encoder
  // in tokenizer.cpp maximizes directly.
  run_program({"spm_train", "--input=sample.txt", "--model_prefix=sp", "--vocab_size=" + std::to_string(vocab_size),
               "--model_type=unigram", "--normalization_rule_name=identity", "--byte_fallback=true",
               "--add_dummy_prefix=false", "--remove_extra_whitespaces=false", "--split_digits=true",
               "--allow_whitespace_only_pieces=true", "--max_sentencepiece_length=16",
               "--character_coverage=0.9995", "--max_sentence_length=16384", "--num_threads=2", "--minloglevel=1"},
              dir.string(), log);
  SentencePieceVocab v = read_sentencepiece_model(read_file(dir / "sp.model"));
  if (v.pieces.size() != vocab_size)
    throw std::runtime_error("sentencepiece: got " + std::to_string(v.pieces.size()) + " pieces, asked for " +
                             std::to_string(vocab_size));
  return v;
}

}  // namespace lmzip

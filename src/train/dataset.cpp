#include "train/dataset.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "hash/sha256.h"
#include "tokenize/sentencepiece_trainer.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace lmzip {
namespace trainer {

// ---------------------------------------------------------------------------
// Random numbers

std::uint64_t Rng::below(std::uint64_t n) {
  // Rejection keeps it exactly uniform.
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
  std::uint64_t x;
  do x = next(); while (x >= limit);
  return x % n;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

// ---------------------------------------------------------------------------
// Files

static std::vector<std::string> list_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    const auto status = fs::status(input, ec);
    if (ec || !fs::exists(status)) throw std::runtime_error("training input not found: " + input);
    if (fs::is_directory(status)) {
      for (auto it = fs::recursive_directory_iterator(input, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file()) files.push_back(it->path().string());
      }
      if (ec) throw std::runtime_error("cannot list " + input + ": " + ec.message());
    } else {
      files.push_back(input);
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  if (files.empty()) throw std::runtime_error("no training files found in the inputs");
  return files;
}

static std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  return data.str();
}

// Writes to a temporary name and renames, so a crash never leaves half a file
// under the real name.
static void write_file_atomic(const std::string& path, const std::string& data) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out.flush()) throw std::runtime_error("cannot write " + temp);
  }
  fs::rename(temp, path);
}

// Bytes [split, size) of a file are held out.
static std::size_t holdout_split(std::size_t size, double holdout) {
  const auto held = static_cast<std::size_t>(std::floor(static_cast<double>(size) * holdout));
  return size - std::min(held, size);
}

// ---------------------------------------------------------------------------
// Cache: manifest.txt names the files and settings; tokens.bin holds, per
// file, the counts of training and held-out ids, then all training ids, then
// all held-out ids (u16 little-endian). The manifest is written last, so a
// cache with a matching manifest is complete.

// given_model: the SentencePiece model file given, if any (its content is
// the key, not its path).
static std::string manifest_text(const TrainOptions& options, const std::vector<std::string>& files,
                                 const std::string& given_model) {
  std::ostringstream m;
  m << "lmzip-train-data 1\n";
  m << "tokenizer " << options.tokenizer << "\n";
  if (!given_model.empty()) {
    m << "sentencepiece-model " << to_hex(sha256(given_model.data(), given_model.size())) << "\n";
  } else if (options.tokenizer == "sentencepiece") {
    m << "vocab " << options.vocab_size << "\n";
    m << "seed " << options.seed << "\n";
  }
  m << "holdout " << options.holdout << "\n";
  for (const auto& f : files) m << "file " << fs::file_size(f) << " " << f << "\n";
  return m.str();
}

static void append_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

static void append_ids(std::string& out, const std::vector<std::uint16_t>& ids) {
  for (auto id : ids) {
    out.push_back(static_cast<char>(id & 0xff));
    out.push_back(static_cast<char>(id >> 8));
  }
}

static std::string encode_tokens(const Corpus& c) {
  std::string out;
  append_u64(out, c.files.size());
  for (std::size_t f = 0; f < c.files.size(); ++f) {
    append_u64(out, c.train_starts[f + 1] - c.train_starts[f]);
    append_u64(out, c.held_starts[f + 1] - c.held_starts[f]);
  }
  append_ids(out, c.train);
  append_ids(out, c.held);
  return out;
}

// Reads little-endian fields off a string; false once it runs out.
struct Reader {
  const std::string& data;
  std::size_t pos = 0;
  bool u64(std::uint64_t& v) {
    if (data.size() - pos < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(data[pos + i])} << (8 * i);
    pos += 8;
    return true;
  }
  bool bytes(std::uint64_t n, std::string& out) {
    if (data.size() - pos < n) return false;
    out = data.substr(pos, n);
    pos += n;
    return true;
  }
  bool ids(std::uint64_t n, std::vector<std::uint16_t>& out) {
    if ((data.size() - pos) / 2 < n) return false;
    out.resize(n);
    for (auto& id : out) {
      id = static_cast<std::uint16_t>(static_cast<unsigned char>(data[pos]) |
                                      (static_cast<unsigned char>(data[pos + 1]) << 8));
      pos += 2;
    }
    return true;
  }
};

static bool decode_tokens(const std::string& data, Corpus& c) {
  Reader in{data};
  std::uint64_t nfiles;
  if (!in.u64(nfiles) || nfiles != c.files.size()) return false;
  c.train_starts.assign(1, 0);
  c.held_starts.assign(1, 0);
  for (std::size_t f = 0; f < nfiles; ++f) {
    std::uint64_t ntrain, nheld;
    if (!in.u64(ntrain) || !in.u64(nheld)) return false;
    c.train_starts.push_back(c.train_starts.back() + ntrain);
    c.held_starts.push_back(c.held_starts.back() + nheld);
  }
  return in.ids(c.train_starts.back(), c.train) && in.ids(c.held_starts.back(), c.held) && in.pos == data.size();
}

// tokenizer.vocab: u64 count, then per piece u64 length, its bytes, u64 score.
static std::string encode_vocab(const std::vector<std::string>& pieces, const std::vector<std::int32_t>& scores) {
  std::string out;
  append_u64(out, pieces.size());
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    append_u64(out, pieces[i].size());
    out += pieces[i];
    append_u64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(scores[i])));
  }
  return out;
}

static bool decode_vocab(const std::string& data, Corpus& c) {
  Reader in{data};
  std::uint64_t count;
  if (!in.u64(count) || count > 65536) return false;
  std::vector<std::string> pieces(count);
  std::vector<std::int32_t> scores(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t length, score;
    if (!in.u64(length) || !in.bytes(length, pieces[i]) || !in.u64(score)) return false;
    scores[i] = static_cast<std::int32_t>(static_cast<std::int64_t>(score));
  }
  c.piece_scores = scores;
  c.tokenizer = Tokenizer::from_pieces(std::move(pieces), std::move(scores));
  return true;
}

std::uint64_t Corpus::bytes_of(const std::uint16_t* ids, std::size_t count) const {
  if (tokenizer->is_bytes()) return count;
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < count; ++i) n += tokenizer->piece(ids[i]).size();
  return n;
}

// Runs task(i) for i in [0, n) on up to `threads` threads; rethrows the
// exception of the lowest failing i, so errors do not depend on timing.
template <typename Task>
static void for_each_index(std::size_t n, int threads, const Task& task) {
  std::vector<std::exception_ptr> errors(n);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next++) < n;) {
      try {
        task(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  const std::size_t count = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, threads)));
  for (std::size_t t = 1; t < count; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

Corpus prepare_corpus(const TrainOptions& options, const std::string& cache_dir,
                      const std::string& init_sentencepiece) {
  if (options.tokenizer != "bytes" && options.tokenizer != "sentencepiece")
    throw std::runtime_error("unknown tokenizer '" + options.tokenizer + "' (bytes or sentencepiece)");
  if (!(options.holdout > 0 && options.holdout < 0.5))
    throw std::runtime_error("holdout must be a fraction in (0, 0.5)");

  // A given SentencePiece model, checked before anything else is done.
  SentencePieceVocab given;
  if (!options.sentencepiece_model.empty()) {
    const std::string& path = options.sentencepiece_model;
    if (options.tokenizer != "sentencepiece")
      throw std::runtime_error("a SentencePiece model file (" + path + ") needs the sentencepiece tokenizer");
    try {
      given = read_sentencepiece_model(read_file(path));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
    if (options.vocab_size && options.vocab_size != given.pieces.size())
      throw std::runtime_error(path + " has " + std::to_string(given.pieces.size()) + " pieces, not the " +
                               std::to_string(options.vocab_size) + " asked for (leave out the vocabulary size)");
  }
  if (!init_sentencepiece.empty()) {
    try {
      given = read_sentencepiece_model(init_sentencepiece);
    } catch (const std::exception& e) {
      throw std::runtime_error(options.init_model + ": its tokenizer: " + e.what());
    }
  }

  Corpus c;
  c.tokenizer_kind = options.tokenizer;
  c.files = list_inputs(options.inputs);
  for (const auto& f : c.files) c.total_bytes += fs::file_size(f);
  const std::string manifest = manifest_text(options, c.files, given.model_proto);

  const std::string manifest_path = cache_dir.empty() ? "" : cache_dir + "/data-manifest.txt";
  const std::string tokens_path = cache_dir.empty() ? "" : cache_dir + "/data-tokens.bin";
  const std::string sp_path = cache_dir.empty() ? "" : cache_dir + "/tokenizer.model";
  const std::string vocab_path = cache_dir.empty() ? "" : cache_dir + "/tokenizer.vocab";

  // A cache of the same files and settings?
  if (!cache_dir.empty() && fs::exists(manifest_path) && read_file(manifest_path) == manifest) {
    bool ok = true;
    if (c.tokenizer_kind == "sentencepiece") {
      c.sentencepiece_model = read_file(sp_path);
      ok = decode_vocab(read_file(vocab_path), c);
    } else {
      c.tokenizer = Tokenizer::bytes();
    }
    if (ok && decode_tokens(read_file(tokens_path), c)) {
      if (c.piece_scores.empty()) c.piece_scores.assign(c.tokenizer->vocab_size(), 0);
      std::cerr << "train: loaded " << c.train.size() << " training and " << c.held.size()
                << " held-out symbols from the cache in " << cache_dir << "\n";
      return c;
    }
    std::cerr << "train: the data cache in " << cache_dir << " is damaged; tokenizing again\n";
  }

  std::string vocab_bytes;
  if (c.tokenizer_kind == "bytes") {
    c.tokenizer = Tokenizer::bytes();
  } else {
    if (given.pieces.empty()) {
      const std::uint32_t vocab = options.vocab_size ? options.vocab_size : 4096;
      std::cerr << "train: training a SentencePiece model of " << vocab << " pieces on " << c.files.size()
                << " files\n";
      // Trained on whole files (held-out tails included): the tokenizer sees the
      // held-out text's lines, the network never does.
      given = train_sentencepiece(c.files, vocab, 500000, options.seed);
    } else {
      std::cerr << "train: SentencePiece model of " << given.pieces.size() << " pieces from "
                << (init_sentencepiece.empty() ? options.sentencepiece_model : options.init_model) << "\n";
    }
    vocab_bytes = encode_vocab(given.pieces, given.scores);
    c.sentencepiece_model = std::move(given.model_proto);
    c.piece_scores = given.scores;
    c.tokenizer = Tokenizer::from_pieces(std::move(given.pieces), std::move(given.scores));
  }
  if (c.piece_scores.empty()) c.piece_scores.assign(c.tokenizer->vocab_size(), 0);
  if (c.tokenizer->vocab_size() > 65536) throw std::runtime_error("vocabulary larger than 65536");

  std::cerr << "train: tokenizing " << c.files.size() << " files (" << c.total_bytes << " bytes) on "
            << std::max(1, options.threads) << " threads\n";
  // Files in parallel (Tokenizer::encode is const and keeps no state), joined
  // in file order: the result does not depend on the thread count.
  struct FileIds {
    std::vector<std::uint16_t> train, held;
  };
  std::vector<FileIds> parts(c.files.size());
  for_each_index(c.files.size(), options.threads, [&](std::size_t f) {
    const std::string data = read_file(c.files[f]);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
    const std::size_t split = holdout_split(data.size(), options.holdout);
    std::vector<std::uint32_t> ids;
    c.tokenizer->encode(bytes, split, ids);
    parts[f].train.assign(ids.begin(), ids.end());
    c.tokenizer->encode(bytes + split, data.size() - split, ids);
    parts[f].held.assign(ids.begin(), ids.end());
  });
  c.train_starts.assign(1, 0);
  c.held_starts.assign(1, 0);
  for (auto& part : parts) {
    c.train.insert(c.train.end(), part.train.begin(), part.train.end());
    c.held.insert(c.held.end(), part.held.begin(), part.held.end());
    c.train_starts.push_back(c.train.size());
    c.held_starts.push_back(c.held.size());
    part = FileIds();
  }
  if (c.train.empty()) throw std::runtime_error("the training inputs are empty");

  if (!cache_dir.empty()) {
    fs::create_directories(cache_dir);
    if (c.tokenizer_kind == "sentencepiece") {
      write_file_atomic(sp_path, c.sentencepiece_model);
      write_file_atomic(vocab_path, vocab_bytes);
    }
    write_file_atomic(tokens_path, encode_tokens(c));
    write_file_atomic(manifest_path, manifest);
  }
  return c;
}

// ---------------------------------------------------------------------------
// Batches

void sample_batch(const Corpus& c, Rng& rng, std::uint32_t batch, std::uint32_t sequence,
                  std::int64_t* inputs, std::int64_t* targets) {
  const std::int64_t bos = c.vocab_size();
  for (std::uint32_t b = 0; b < batch; ++b) {
    std::uint64_t start = rng.below(c.train.size());
    // The file holding `start`: the last file that starts at or before it.
    const auto file = static_cast<std::size_t>(
        std::upper_bound(c.train_starts.begin(), c.train_starts.end(), start) - c.train_starts.begin() - 1);
    if (rng.below(8) == 0) start = c.train_starts[file];
    const std::uint64_t end = c.train_starts[file + 1];

    std::int64_t* in = inputs + std::size_t{b} * sequence;
    std::int64_t* out = targets + std::size_t{b} * sequence;
    // Position i sees BOS and the i symbols before it, and predicts symbol i.
    in[0] = bos;
    for (std::uint32_t i = 0; i < sequence; ++i) {
      const std::uint64_t at = start + i;
      out[i] = at < end ? c.train[at] : -1;
      if (i + 1 < sequence) in[i + 1] = at < end ? c.train[at] : bos;
    }
  }
}

std::vector<std::uint64_t> heldout_chunks(const Corpus& c, std::uint32_t length, std::size_t max_chunks) {
  std::vector<std::uint64_t> all;
  for (std::size_t f = 0; f + 1 < c.held_starts.size(); ++f) {
    for (std::uint64_t at = c.held_starts[f]; at + length <= c.held_starts[f + 1]; at += length) all.push_back(at);
  }
  if (all.size() <= max_chunks) return all;
  std::vector<std::uint64_t> picked;
  for (std::size_t i = 0; i < max_chunks; ++i) picked.push_back(all[i * all.size() / max_chunks]);
  return picked;
}

}  // namespace trainer
}  // namespace lmzip

#include "tokenize/sentencepiece_trainer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

// A vocab line is "piece<TAB>score"; the piece itself may hold a tab.
std::string piece_bytes(const std::string& piece) {
  if (piece == "<unk>" || piece == "<s>" || piece == "</s>") return "";
  if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>')
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
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
  const std::string prefix = (dir / "sp").string();
  run_program({"spm_export_vocab", "--model=sp.model", "--output=sp.tsv"}, dir.string(), log);

  SentencePieceVocab v;
  v.model_proto = read_file(prefix + ".model");
  std::ifstream tsv(prefix + ".tsv", std::ios::binary);
  std::string line;
  std::vector<bool> is_byte;
  while (std::getline(tsv, line)) {
    const std::size_t tab = line.rfind('\t');
    if (tab == std::string::npos) throw std::runtime_error("sentencepiece: bad vocab line: " + line);
    const std::string piece = line.substr(0, tab);
    v.pieces.push_back(piece_bytes(piece));
    v.scores.push_back(static_cast<std::int32_t>(std::lround(std::stod(line.substr(tab + 1)) * 1024)));
    is_byte.push_back(piece.size() == 6 && piece.compare(0, 3, "<0x") == 0);
  }
  // SentencePiece gives byte pieces score 0 and uses them only for unknown
  // characters; for the Viterbi encoder they must cost more than any piece.
  std::int32_t lowest = 0;
  for (std::size_t i = 0; i < v.pieces.size(); ++i)
    if (!is_byte[i] && !v.pieces[i].empty()) lowest = std::min(lowest, v.scores[i]);
  for (std::size_t i = 0; i < v.pieces.size(); ++i)
    if (is_byte[i]) v.scores[i] = lowest - 10 * 1024;
  if (v.pieces.size() != vocab_size)
    throw std::runtime_error("sentencepiece: got " + std::to_string(v.pieces.size()) + " pieces, asked for " +
                             std::to_string(vocab_size));
  return v;
}

}  // namespace lmzip

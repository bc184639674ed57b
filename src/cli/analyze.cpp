#include "cli/analyze.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/file_ops.h"
#include "lmzip/lmzip.h"

namespace lmzip::cli {
namespace {

namespace fs = std::filesystem;

struct Failure {
  std::string message;
};

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Failure{path + ": is a folder (give files, or --train/--eval for folders)"};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure{path + ": cannot be read: " + std::strerror(errno)};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Failure{path + ": read error"};
  return buffer.str();
}

// The labelled files of a folder: each subfolder is a label (sorted by
// name), its regular files (recursively, sorted by path) its items.
struct Labelled {
  std::vector<std::string> labels;
  std::vector<std::string> paths;
  std::vector<std::size_t> label_of;
};

Labelled read_labelled(const std::string& dir, const char* option) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Failure{std::string(option) + " " + dir + ": no such folder"};
  if (!fs::is_directory(dir, ec)) throw Failure{std::string(option) + " " + dir + ": not a folder"};
  Labelled out;
  std::vector<fs::path> subdirs;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Failure{std::string(option) + " " + dir + ": cannot be read: " + ec.message()};
  for (const auto& entry : it)
    if (entry.is_directory()) subdirs.push_back(entry.path());
  std::sort(subdirs.begin(), subdirs.end());
  for (const fs::path& sub : subdirs) {
    std::vector<std::string> files;
    fs::recursive_directory_iterator files_it(sub, ec);
    if (ec) throw Failure{sub.string() + ": cannot be read: " + ec.message()};
    for (const auto& entry : files_it)
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    if (files.empty()) continue;
    std::sort(files.begin(), files.end());
    out.labels.push_back(sub.filename().string());
    for (auto& f : files) {
      out.paths.push_back(std::move(f));
      out.label_of.push_back(out.labels.size() - 1);
    }
  }
  if (out.paths.empty())
    throw Failure{std::string(option) + " " + dir +
                  ": no labelled files (it needs one subfolder per label, with files in them)"};
  return out;
}

std::vector<std::string> read_all(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  out.reserve(paths.size());
  for (const auto& p : paths) out.push_back(read_file(p));
  return out;
}

// ncd and classify code every pair of texts (analyze.h).
constexpr int kPairsDefaultLevel = 1;

CompressOptions compress_options(const AnalyzeOptions& o, int unset_level) {
  CompressOptions c;
  c.models.explicit_path = o.model;
  c.models.program_path = program_path();
  c.level = o.level ? o.level : unset_level;
  c.threads = o.threads == 0 ? usable_cores() : o.threads;
  c.device = o.device;
  c.memory_limit = o.memory_limit;
  return c;
}

// Progress on stderr with -v: pairs done, every few seconds.
std::function<void(std::size_t, std::size_t)> progress_of(const AnalyzeOptions& o) {
  if (o.verbosity < 1) return {};
  auto start = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  auto last = std::make_shared<double>(-10.0);
  return [start, last](std::size_t done, std::size_t total) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
    if (s - *last < 5 && done < total) return;
    *last = s;
    std::fprintf(stderr, "lmzip: %zu of %zu pairs, %.1f s\n", done, total, s);
  };
}

// A TSV cell: a name without tabs or newlines.
std::string cell(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

void print_matrix(std::FILE* out, const std::vector<std::string>& rows, const std::vector<std::string>& cols,
                  const std::vector<std::vector<double>>& d, int digits = 6) {
  std::fprintf(out, "ncd");
  for (const auto& c : cols) std::fprintf(out, "\t%s", cell(c).c_str());
  std::fprintf(out, "\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::fprintf(out, "%s", cell(rows[i]).c_str());
    for (double v : d[i]) std::fprintf(out, "\t%.*f", digits, v);
    std::fprintf(out, "\n");
  }
}

int run_ncd(const AnalyzeOptions& o) {
  if (o.files.empty()) throw Failure{"ncd needs at least one FILE"};
  const std::vector<std::string> a = read_all(o.files);
  const std::vector<std::string>& b_paths = o.against.empty() ? o.files : o.against;
  const std::vector<std::string> b = o.against.empty() ? a : read_all(o.against);
  CodeLengths lengths(compress_options(o, kPairsDefaultLevel));
  const auto d = lengths.ncd_matrix(a, b, progress_of(o));
  print_matrix(stdout, o.files, b_paths, d);
  return 0;
}

std::string fraction(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

int run_classify(const AnalyzeOptions& o) {
  if (o.train_dir.empty()) throw Failure{"classify needs --train DIR"};
  if (o.files.empty() && o.eval_dir.empty()) throw Failure{"classify needs FILEs to label, or --eval DIR"};
  if (o.k < 1) throw Failure{"-k must be at least 1"};
  const Labelled train = read_labelled(o.train_dir, "--train");
  Labelled eval;
  std::vector<std::string> test_paths = o.files;
  if (!o.eval_dir.empty()) {
    eval = read_labelled(o.eval_dir, "--eval");
    test_paths.insert(test_paths.end(), eval.paths.begin(), eval.paths.end());
  }
  const std::vector<std::string> train_texts = read_all(train.paths);
  const std::vector<std::string> test_texts = read_all(test_paths);
  const CompressOptions options = compress_options(o, kPairsDefaultLevel);
  CodeLengths lengths(options);
  // Rows: the training items, so a pair is C(train test): the test text
  // coded after the training text.
  const auto d = lengths.ncd_matrix(train_texts, test_texts, progress_of(o));
  std::vector<std::size_t> predicted(test_paths.size());
  for (std::size_t j = 0; j < test_paths.size(); ++j) {
    std::vector<double> column(train.paths.size());
    for (std::size_t i = 0; i < train.paths.size(); ++i) column[i] = d[i][j];
    predicted[j] = knn_label(column, train.label_of, o.k);
  }
  if (!o.distances_file.empty()) {
    std::FILE* f = std::fopen(o.distances_file.c_str(), "w");
    if (f == nullptr) throw Failure{o.distances_file + ": cannot be written: " + std::strerror(errno)};
    std::vector<std::vector<double>> t(test_paths.size(), std::vector<double>(train.paths.size()));
    for (std::size_t i = 0; i < train.paths.size(); ++i)
      for (std::size_t j = 0; j < test_paths.size(); ++j) t[j][i] = d[i][j];
    print_matrix(f, test_paths, train.paths, t, 10);
    if (std::fclose(f) != 0) throw Failure{o.distances_file + ": write error"};
  }
  for (std::size_t j = 0; j < o.files.size(); ++j)
    std::printf("%s\t%s\n", cell(o.files[j]).c_str(), train.labels[predicted[j]].c_str());
  if (o.eval_dir.empty()) return 0;
  // Evaluation labels: the training labels, then those only the evaluation has.
  std::vector<std::string> labels = train.labels;
  std::vector<std::size_t> truth;
  for (std::size_t j = 0; j < eval.paths.size(); ++j) {
    const std::string& name = eval.labels[eval.label_of[j]];
    auto it = std::find(labels.begin(), labels.end(), name);
    if (it == labels.end()) {
      labels.push_back(name);
      it = labels.end() - 1;
    }
    truth.push_back(static_cast<std::size_t>(it - labels.begin()));
  }
  const std::vector<std::size_t> eval_predicted(predicted.begin() + static_cast<std::ptrdiff_t>(o.files.size()),
                                                predicted.end());
  const Evaluation e = evaluate(truth, eval_predicted, labels.size());
  std::printf("accuracy\t%.4f\t%zu/%zu\tk=%d\tlevel %d\t%s\n", e.accuracy, e.correct, e.total, o.k,
              options.level, lengths.model().name.c_str());
  std::printf("class\tprecision\trecall\tsupport\tpredicted\n");
  for (std::size_t c = 0; c < labels.size(); ++c)
    std::printf("%s\t%s\t%s\t%zu\t%zu\n", cell(labels[c]).c_str(), fraction(e.precision[c]).c_str(),
                fraction(e.recall[c]).c_str(), e.support[c], e.predicted[c]);
  std::printf("confusion (rows: true class, columns: predicted)\n");
  for (const auto& l : labels) std::printf("\t%s", cell(l).c_str());
  std::printf("\n");
  for (std::size_t c = 0; c < labels.size(); ++c) {
    std::printf("%s", cell(labels[c]).c_str());
    for (std::size_t p = 0; p < labels.size(); ++p) std::printf("\t%zu", e.confusion[c][p]);
    std::printf("\n");
  }
  return 0;
}

std::string bits_per_byte(double bits, std::uint64_t bytes) {
  if (bytes == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", bits / static_cast<double>(bytes));
  return buf;
}

int run_score(const AnalyzeOptions& o) {
  if (o.files.empty()) throw Failure{"score needs at least one FILE"};
  const std::vector<std::string> texts = read_all(o.files);
  CodeLengths lengths(compress_options(o, default_level()));
  if (!o.lines) {
    const std::vector<double> bits = lengths.bits(texts);
    for (std::size_t i = 0; i < texts.size(); ++i)
      std::printf("%s\t%zu\t%.1f\t%s\n", bits_per_byte(bits[i], texts[i].size()).c_str(), texts[i].size(), bits[i],
                  cell(o.files[i]).c_str());
    return 0;
  }
  const auto lines = lengths.line_bits(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::size_t offset = 0;
    for (std::size_t l = 0; l < lines[i].size(); ++l) {
      const auto& line = lines[i][l];
      std::string text = texts[i].substr(offset, line.bytes);
      offset += line.bytes;
      if (!text.empty() && text.back() == '\n') text.pop_back();
      std::printf("%s\t%llu\t%.1f\t%s:%zu\t%s\n", bits_per_byte(line.bits, line.bytes).c_str(),
                  static_cast<unsigned long long>(line.bytes), line.bits, cell(o.files[i]).c_str(), l + 1,
                  cell(text).c_str());
    }
  }
  return 0;
}

}  // namespace

AnalyzeCommands add_analyze_commands(CLI::App& app, AnalyzeOptions& o) {
  AnalyzeCommands c;
  c.ncd = app.add_subcommand("ncd", "print the normalized compression distances of FILEs under the model (TSV)");
  c.ncd->add_option("files", o.files, "texts; row i, column j: NCD(FILE_i, FILE_j) with C(FILE_i FILE_j)")
      ->type_name("FILE");
  c.ncd->add_option("--against", o.against, "columns: these files instead of the FILEs")->type_name("FILE");
  c.classify = app.add_subcommand("classify", "label FILEs by their k nearest training texts under NCD");
  c.classify->add_option("files", o.files, "texts to label (one line each: FILE, tab, label)")->type_name("FILE");
  c.classify->add_option("--train", o.train_dir, "labelled texts: one subfolder per label, its files the examples")
      ->type_name("DIR");
  c.classify->add_option("--eval", o.eval_dir,
                         "labelled as --train: print accuracy, per-class precision and recall, and the confusion matrix")
      ->type_name("DIR");
  c.classify->add_option("-k", o.k, "neighbours that vote; a tie goes to the tied label of the nearest neighbour")
      ->capture_default_str();
  c.classify->add_option("--distances", o.distances_file, "also write the test-by-training NCD matrix (TSV) to FILE")
      ->type_name("FILE");
  c.score = app.add_subcommand("score", "print the bits per byte of each FILE under the model");
  c.score->add_option("files", o.files, "texts")->type_name("FILE");
  c.score->add_flag("--lines", o.lines, "per line: the bits of the symbols that start in it, the file coded whole");
  return c;
}

int default_analyze_level(const AnalyzeCommands& commands, const CLI::App* command) {
  return command == commands.score ? default_level() : kPairsDefaultLevel;
}

int run_analyze(const AnalyzeCommands& c, const AnalyzeOptions& o) {
  const char* name = c.ncd->parsed() ? "ncd" : c.classify->parsed() ? "classify" : "score";
  try {
    if (c.ncd->parsed()) return run_ncd(o);
    if (c.classify->parsed()) return run_classify(o);
    return run_score(o);
  } catch (const Failure& f) {
    std::fprintf(stderr, "lmzip %s: %s\n", name, f.message.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "lmzip %s: %s\n", name, e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "lmzip %s: out of memory\n", name);
  }
  std::fflush(stdout);
  return 1;
}

}  // namespace lmzip::cli

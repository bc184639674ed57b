// SPDX-License-Identifier: MIT
// The lmzip program: parses the command line (gzip/xz/zstd conventions, see
// docs/cli.md), runs the library once per file, and reports one line per
// problem on stderr. Files, temp outputs and signals live in file_ops.cpp;
// everything that compresses lives in the library (include/lmzip/lmzip.h).
#include <unistd.h>  // isatty

#include <CLI/CLI.hpp>                   // command line
#include <spdlog/sinks/stdout_sinks.h>  // stderr logger
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <istream>
#include <mutex>
#include <limits>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/analyze.h"
#include "cli/derive_model.h"
#include "cli/file_ops.h"
#include "lmzip/lmzip.h"
#include "cli/train_module.h"
#include "train/trainer.h"

namespace lmzip::cli {
namespace {

constexpr const char* kSuffix = ".lmz";  // the default of -S
constexpr const char* kTarSuffix = ".tlmz";  // shorthand for .tar.lmz

enum class Mode { Compress, Decompress, Test, List };

// Exit codes, as gzip and xz: a warning alone (a skipped file) gives 2.
enum class Outcome { Ok = 0, Failed = 1, Warned = 2 };

struct Settings {
  Mode mode = Mode::Compress;
  std::vector<std::string> files;
  std::string output;       // -o
  bool to_stdout = false;   // -c
  bool force = false;       // -f
  bool remove_input = false;  // --rm
  int threads = 0;          // -T (0: the usable cores, the default: output does not depend on it)
  int verbosity = 0;        // -v count minus -q count
  int level = 0;            // 0: the library's default
  std::string model;        // -m
  std::string device = "auto";  // --device
  std::uint32_t chunk_bytes = 0;  // --chunk-size (0: the model's default)
  std::uint64_t memory_limit = 0;  // -M (0: the library's default)
  std::string suffix = kSuffix;   // -S
  bool recursive = false;         // -r
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         s[s.size() - suffix.size() - 1] != '/';
}

std::string DisplayName(const std::string& file) { return file == "-" ? "stdin" : file; }

std::string BaseName(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The decompressed name for FILE.SUFFIX (-S), FILE.lmz or FILE.tlmz, or "" for
// an unknown suffix: as gzip and xz, -S adds a suffix to the known ones.
std::string StripSuffix(const std::string& file, const std::string& suffix) {
  for (const std::string& known : {suffix, std::string(kSuffix)})
    if (EndsWith(file, known)) return file.substr(0, file.size() - known.size());
  if (EndsWith(file, kTarSuffix)) return file.substr(0, file.size() - std::string(kTarSuffix).size()) + ".tar";
  return "";
}

std::string Describe(const lmzip::Error& e) {
  switch (e.kind()) {
    case lmzip::Error::Kind::Corrupt:
      return std::string("corrupt input: ") + e.what();
    case lmzip::Error::Kind::ModelInvalid:
      return std::string("bad model: ") + e.what();
    case lmzip::Error::Kind::ModelMissing:  // the library's text says where it looked
    case lmzip::Error::Kind::MemoryLimit:   // the library's text names the need and -M
    case lmzip::Error::Kind::Io:
    case lmzip::Error::Kind::Usage:
      break;
  }
  return e.what();
}

// -M's argument: bytes with an optional K, M, G or T (powers of 1024, as
// xz; "KiB", "MB" and the like read the same), a percentage of the physical
// memory, "max" for no limit, or 0 for the default. nullopt if it is none of those.
std::optional<std::uint64_t> ParseMemoryLimit(const std::string& text) {
  if (text == "max") return std::numeric_limits<std::uint64_t>::max();
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  const std::uint64_t number = std::stoull(text.substr(0, digits));
  std::string unit = text.substr(digits);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit == "%") {
    if (number < 1 || number > 100) return std::nullopt;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return std::nullopt;
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) / 100 * number;
  }
  static const std::pair<const char*, int> kUnits[] = {{"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"kib", 10},
                                                       {"m", 20}, {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30},
                                                       {"gib", 30}, {"t", 40}, {"tb", 40}, {"tib", 40}};
  for (const auto& [name, shift] : kUnits)
    if (unit == name)
      return number > (std::numeric_limits<std::uint64_t>::max() >> shift) ? std::numeric_limits<std::uint64_t>::max()
                                                                            : number << shift;
  return std::nullopt;
}

std::string ShortId(const std::string& id) { return id.size() > 8 ? id.substr(0, 8) + "..." : id; }

// "45.2%": compressed size as a share of the original, as gzip -v and xz -l.
std::string Percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

// "level 1", "levels 3, 5-9": ascending levels, runs of consecutive ones as ranges.
std::string LevelList(const std::vector<int>& levels) {
  std::string text;
  for (std::size_t i = 0; i < levels.size();) {
    std::size_t last = i;
    while (last + 1 < levels.size() && levels[last + 1] == levels[last] + 1) ++last;
    if (!text.empty()) text += ", ";
    text += std::to_string(levels[i]);
    if (last > i) text += "-" + std::to_string(levels[last]);
    i = last + 1;
  }
  return (levels.size() == 1 ? "level " : "levels ") + text;
}

// "adapted-large x255 (written by levels 3, 5-9), stored x1": a frame's chunk
// modes; a mode no level writes (stored: any level may) has no levels.
std::string DescribeModes(const std::vector<lmzip::ChunkModeCount>& modes) {
  std::string text;
  for (const auto& m : modes) {
    if (!text.empty()) text += ", ";
    text += m.mode + " x" + std::to_string(m.chunks);
    if (!m.levels.empty()) text += " (written by " + LevelList(m.levels) + ")";
  }
  return text;
}

// The lines -l -v opens a file's block with, and its totals block.
void PrintListSummary(std::uint64_t streams, const lmzip::StreamInfo& sum) {
  std::printf("  Streams:       %" PRIu64 "\n", streams);
  std::printf("  Frames:        %" PRIu64 "\n", sum.frames);
  std::printf("  Chunks:        %" PRIu64 " (%" PRIu64 " stored)\n", sum.chunks, sum.stored_chunks);
  std::printf("  Compressed:    %" PRIu64 " bytes\n", sum.compressed_bytes);
  std::printf("  Uncompressed:  %" PRIu64 " bytes\n", sum.original_bytes);
  std::printf("  Ratio:         %s\n", Percent(sum.compressed_bytes, sum.original_bytes).c_str());
}

// "45.2% (123456 => 55555 bytes, 2.91 bits/byte; model ideal 55321 bytes), model NAME 1a2b3c4d..."
std::string DescribeStats(const lmzip::Stats& stats) {
  char numbers[160];
  double bits_per_byte = stats.original_bytes == 0
                             ? 0.0
                             : 8.0 * static_cast<double>(stats.compressed_bytes) / static_cast<double>(stats.original_bytes);
  std::snprintf(numbers, sizeof numbers, "(%" PRIu64 " => %" PRIu64 " bytes, %.2f bits/byte", stats.original_bytes,
                stats.compressed_bytes, bits_per_byte);
  std::string text = Percent(stats.compressed_bytes, stats.original_bytes) + " " + numbers;
  // The model's ideal size: what a perfect coder would need for its predictions
  // (absent when nothing was modelled, e.g. all chunks stored).
  if (stats.ideal_bits > 0) {
    auto ideal_bytes = static_cast<std::uint64_t>(std::ceil(stats.ideal_bits / 8.0));
    text += "; model ideal " + std::to_string(ideal_bytes) + " bytes";
  }
  text += ")";
  if (!stats.model_id.empty()) {
    text += ", model ";
    if (!stats.model_name.empty()) text += stats.model_name + " ";
    text += ShortId(stats.model_id);
  }
  return text;
}

// "frames 1-3 on CPU" or "frames 1-16 on CUDA: NVIDIA H100, 17-20 on CPU"
std::string DescribeDevices(const lmzip::Stats& stats) {
  std::string text = "frames ";
  for (std::size_t i = 0; i < stats.devices.size(); ++i) {
    const lmzip::DeviceRun& run = stats.devices[i];
    if (i > 0) text += ", ";
    text += std::to_string(run.first_frame + 1);
    if (run.frames > 1) text += "-" + std::to_string(run.first_frame + run.frames);
    text += " on " + run.device;
  }
  return text;
}

// "-5: the default model, ... (default.lmzm; chunks 16K to the model's)"
std::string LevelHelp(const lmzip::LevelInfo& info) {
  auto size = [](std::uint64_t bytes) {
    return bytes % (1u << 20) == 0 ? std::to_string(bytes >> 20) + "M" : std::to_string(bytes >> 10) + "K";
  };
  return info.summary + " (" + info.model_file + "; chunks of " + size(info.smallest_chunk_bytes) + " to " +
         (info.largest_chunk_bytes ? size(info.largest_chunk_bytes) : std::string("the model's")) + ")";
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

// One self-overwriting status line on stderr, shown only when stderr is a
// terminal. The library may call update() from its workers, hence the lock;
// it is redrawn at most 4 times a second.
class ProgressLine {
 public:
  ProgressLine(bool enabled, std::string name, std::uint64_t total_in)
      : enabled_(enabled), name_(std::move(name)), total_in_(total_in), start_(Clock::now()), last_(start_) {}
  ~ProgressLine() { clear(); }

  lmzip::ProgressFn callback() {
    if (!enabled_) return nullptr;
    return [this](std::uint64_t in, std::uint64_t out) { update(in, out); };
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shown_) std::fputs("\r\033[K", stderr);
    shown_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;

  void update(std::uint64_t in, std::uint64_t out) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    std::string line = "lmzip: " + name_ + ": ";
    if (total_in_ > 0) {
      char percent[16];
      std::snprintf(percent, sizeof percent, "%3.0f%% ", 100.0 * static_cast<double>(in) / static_cast<double>(total_in_));
      line += percent;
    }
    line += HumanBytes(static_cast<double>(in)) + " => " + HumanBytes(static_cast<double>(out));
    if (seconds > 0) line += ", " + HumanBytes(static_cast<double>(in) / seconds) + "/s";
    if (total_in_ > in && in > 0 && seconds > 1) {
      auto left = static_cast<long>(seconds * static_cast<double>(total_in_ - in) / static_cast<double>(in));
      char eta[32];
      std::snprintf(eta, sizeof eta, ", %ld:%02ld left", left / 60, left % 60);
      line += eta;
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  }

  bool enabled_;
  std::string name_;
  std::uint64_t total_in_;
  Clock::time_point start_;
  Clock::time_point last_;
  bool shown_ = false;
  std::mutex mutex_;
};

// Runs the operation over every input; one instance per program run.
class FileProcessor {
 public:
  explicit FileProcessor(const Settings& settings) : settings_(settings), stdout_buffer_(STDOUT_FILENO) {
    ModelSearch models;
    models.explicit_path = settings.model;
    models.program_path = program_path();
    int threads = settings.threads;
    if (threads == 0) threads = usable_cores();
    compress_options_.models = models;
    compress_options_.threads = threads;
    compress_options_.device = settings.device;
    compress_options_.chunk_bytes = settings.chunk_bytes;
    compress_options_.memory_limit = settings.memory_limit;
    if (settings.level != 0) compress_options_.level = settings.level;
    decompress_options_.models = models;
    decompress_options_.threads = threads;
    decompress_options_.device = settings.device;
    decompress_options_.memory_limit = settings.memory_limit;
    show_progress_ = isatty(STDERR_FILENO) && settings.verbosity >= 0;
  }

  Outcome run();

 private:
  bool writes_stdout(const std::string& file) const {
    if (settings_.mode == Mode::Test || settings_.mode == Mode::List) return false;
    if (settings_.to_stdout || settings_.output == "-") return true;
    return file == "-" && settings_.output.empty();
  }
  std::vector<std::string> inputs(Outcome& result);
  Outcome process(const std::string& file);
  Outcome list(const std::string& file);
  void print_list_details(const std::string& file, const std::vector<lmzip::StreamInfo>& streams,
                          const lmzip::StreamInfo& sum);
  Outcome write_failed(const std::string& target, int error) {
    if (target == "stdout") stdout_failed_ = true;
    return fail(target, "write error: " + errno_text(error));
  }
  Outcome fail(const std::string& file, const std::string& reason) {
    spdlog::error("{}: {}", DisplayName(file), reason);
    return Outcome::Failed;
  }

  const Settings& settings_;
  CompressOptions compress_options_;
  DecompressOptions decompress_options_;
  FdWriteBuffer stdout_buffer_;  // shared: several inputs with -c concatenate
  bool stdout_failed_ = false;   // reported once; later outputs to it are skipped
  bool show_progress_ = false;
  // Totals for -l over several files.
  lmzip::StreamInfo list_total_;
  std::uint64_t list_streams_ = 0;
};

// The files to process: the command line's, with each folder replaced by the
// files below it under -r (those to compress, or those with a known suffix).
std::vector<std::string> FileProcessor::inputs(Outcome& result) {
  if (!settings_.recursive) return settings_.files;
  std::vector<std::string> files;
  for (const auto& file : settings_.files) {
    if (file == "-" || !is_directory(file)) {
      files.push_back(file);
      continue;
    }
    FolderListing listing = list_folder(file);
    for (const auto& [folder, reason] : listing.unreadable) result = fail(folder, reason);
    for (auto& below : listing.files) {
      // As gzip -r: files that already have the suffix, or lack it, pass silently.
      const bool compressed = settings_.mode == Mode::Compress ? EndsWith(below, settings_.suffix)
                                                               : StripSuffix(below, settings_.suffix).empty();
      if (!compressed) files.push_back(std::move(below));
    }
  }
  return files;
}

Outcome FileProcessor::run() {
  Outcome result = Outcome::Ok;
  const std::vector<std::string> files = inputs(result);
  bool any_stdout = false, any_stdin = false;
  for (const auto& file : files) {
    any_stdout = any_stdout || writes_stdout(file);
    any_stdin = any_stdin || file == "-";
  }
  if (!settings_.force) {
    if (settings_.mode == Mode::Compress && any_stdout && isatty(STDOUT_FILENO)) {
      spdlog::error("compressed data cannot be written to a terminal (use -f, or redirect)");
      return Outcome::Failed;
    }
    if (settings_.mode != Mode::Compress && any_stdin && isatty(STDIN_FILENO)) {
      spdlog::error("compressed data cannot be read from a terminal (use -f, or redirect)");
      return Outcome::Failed;
    }
  }
  if (settings_.mode != Mode::Compress && !settings_.model.empty()) {
    // Decompressing looks a model up by its id, and would pass over a -m it
    // cannot read without a word.
    std::string problem = readable_file_problem(settings_.model);
    if (!problem.empty()) return fail(settings_.model, "cannot read the model: " + problem);
  }
  if (settings_.mode == Mode::Compress) {
    // One clear message before any work if there is no model at all.
    try {
      lmzip::resolve_model(compress_options_);
    } catch (const lmzip::Error& e) {
      spdlog::error("{}", Describe(e));
      return Outcome::Failed;
    } catch (const std::exception& e) {
      spdlog::error("internal error: {}", e.what());
      return Outcome::Failed;
    }
  }
  // -l -v: a block of lines per file instead of the table, as xz -lv.
  const bool list_details = settings_.mode == Mode::List && settings_.verbosity > 0;
  if (settings_.mode == Mode::List && !list_details) {
    std::printf("%7s %7s %7s %14s %14s %7s  %-11s %s\n", "Streams", "Frames", "Chunks", "Compressed", "Uncompressed",
                "Ratio", "Model", "Filename");
  }

  for (const auto& file : files) {
    if (stdout_failed_ && writes_stdout(file)) continue;  // already said, and failed
    Outcome one = settings_.mode == Mode::List ? list(file) : process(file);
    if (one == Outcome::Failed || (one == Outcome::Warned && result == Outcome::Ok)) result = one;
  }

  if (list_details && files.size() > 1) {
    std::printf("\nTotals:\n  Files:         %zu\n", files.size());
    PrintListSummary(list_streams_, list_total_);
  } else if (settings_.mode == Mode::List && files.size() > 1) {
    std::printf("%7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %14" PRIu64 " %14" PRIu64 " %7s  %-11s %s\n", list_streams_,
                list_total_.frames, list_total_.chunks, list_total_.compressed_bytes, list_total_.original_bytes,
                Percent(list_total_.compressed_bytes, list_total_.original_bytes).c_str(), "", "(total)");
  }
  if (!stdout_failed_ && !stdout_buffer_.flush_all()) result = write_failed("stdout", stdout_buffer_.error());
  if (std::fflush(stdout) != 0) {
    spdlog::error("stdout: {}", errno_text(errno));
    result = Outcome::Failed;
  }
  return result;
}

Outcome FileProcessor::list(const std::string& file) {
  InputFile input;
  std::string problem = input.open(file, true, true);
  if (!problem.empty()) return fail(file, problem);
  FdReadBuffer read_buffer(input.fd());
  std::istream in(&read_buffer);
  std::vector<lmzip::StreamInfo> streams;
  try {
    streams = lmzip::list(in);
  } catch (const lmzip::Error& e) {
    if (read_buffer.error() != 0) return fail(file, "read error: " + errno_text(read_buffer.error()));
    return fail(file, Describe(e));
  } catch (const std::bad_alloc&) {
    return fail(file, "out of memory");
  } catch (const std::exception& e) {
    return fail(file, std::string("internal error: ") + e.what());
  }
  lmzip::StreamInfo sum;
  std::string model = streams.empty() ? "-" : streams.front().model_id.substr(0, 8);
  for (const auto& s : streams) {
    sum.frames += s.frames;
    sum.chunks += s.chunks;
    sum.stored_chunks += s.stored_chunks;
    sum.compressed_bytes += s.compressed_bytes;
    sum.original_bytes += s.original_bytes;
    if (s.model_id.substr(0, 8) != model) model = "(several)";
  }
  if (settings_.verbosity > 0) {
    print_list_details(file, streams, sum);
  } else {
    std::printf("%7zu %7" PRIu64 " %7" PRIu64 " %14" PRIu64 " %14" PRIu64 " %7s  %-11s %s\n", streams.size(),
                sum.frames, sum.chunks, sum.compressed_bytes, sum.original_bytes,
                Percent(sum.compressed_bytes, sum.original_bytes).c_str(), model.c_str(), DisplayName(file).c_str());
  }
  list_streams_ += streams.size();
  list_total_.frames += sum.frames;
  list_total_.chunks += sum.chunks;
  list_total_.stored_chunks += sum.stored_chunks;
  list_total_.compressed_bytes += sum.compressed_bytes;
  list_total_.original_bytes += sum.original_bytes;
  return Outcome::Ok;
}

// A file's block for -l -v: its totals, its streams (each with its model, by
// name where the search path has it: listing needs no model), and its frames.
void FileProcessor::print_list_details(const std::string& file, const std::vector<lmzip::StreamInfo>& streams,
                                       const lmzip::StreamInfo& sum) {
  if (list_streams_ > 0) std::printf("\n");  // after the block of a file before
  std::printf("%s\n", DisplayName(file).c_str());
  PrintListSummary(streams.size(), sum);
  std::printf("  Streams:\n    %6s %14s %14s %14s %7s %7s  %s\n", "Stream", "Offset", "Compressed", "Uncompressed",
              "Ratio", "Frames", "Model");
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const lmzip::StreamInfo& s = streams[i];
    std::string model;
    try {
      const lmzip::ModelInfo found = lmzip::find_model(decompress_options_.models, s.model_id);
      model = found.name + " (" + found.path + ")";
    } catch (const lmzip::Error&) {
      model = "unknown model " + s.model_id;
    }
    std::printf("    %6zu %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %7s %7" PRIu64 "  %s\n", i + 1, s.offset,
                s.compressed_bytes, s.original_bytes, Percent(s.compressed_bytes, s.original_bytes).c_str(), s.frames,
                model.c_str());
  }
  std::printf("  Frames:\n    %6s %6s %14s %14s %14s %7s %7s %7s  %-8s  %s\n", "Stream", "Frame", "Offset",
              "Compressed", "Uncompressed", "Ratio", "Chunks", "Stored", "Model", "Chunk modes");
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const auto& frames = streams[i].frame_details;
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const lmzip::FrameInfo& f = frames[k];
      std::printf("    %6zu %6zu %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %7s %7" PRIu64 " %7" PRIu64 "  %-8s  %s\n",
                  i + 1, k + 1, f.offset, f.compressed_bytes, f.original_bytes,
                  Percent(f.compressed_bytes, f.original_bytes).c_str(), f.chunks, f.stored_chunks,
                  f.model_id.substr(0, 8).c_str(), DescribeModes(f.modes).c_str());
    }
  }
}

Outcome FileProcessor::process(const std::string& file) {
  const bool compressing = settings_.mode == Mode::Compress;
  const bool to_stdout = writes_stdout(file);
  const bool to_file = settings_.mode != Mode::Test && !to_stdout;

  // Special files and links only when asked, unless nothing is written next
  // to them (as gzip: reading a link or a FIFO with -c is fine).
  InputFile input;
  std::string problem = input.open(file, settings_.force || !to_file, settings_.force || !to_file);
  if (!problem.empty()) return fail(file, problem);
  // As gzip and xz: a warning, not an error, since the file is fine.
  if (to_file && !settings_.force && input.is_regular() && !input.is_stdin()) {
    problem = needs_force(input.status());
    if (!problem.empty()) {
      spdlog::warn("{}: {}", file, problem);
      return Outcome::Warned;
    }
  }

  std::string target;
  if (to_file) {
    if (!settings_.output.empty()) {
      target = settings_.output;
    } else if (compressing) {
      if (EndsWith(file, settings_.suffix) && !settings_.force) {
        spdlog::warn("{}: already has {} suffix -- ignored (use -f to compress it again)", file, settings_.suffix);
        return Outcome::Warned;
      }
      target = file + settings_.suffix;
    } else {
      target = StripSuffix(file, settings_.suffix);
      if (target.empty())
        return fail(file, "unknown suffix (" + settings_.suffix + " expected) -- use -o FILE or -c");
    }
    if (!input.is_stdin() && same_file(target, input.status()))
      return fail(file, "refusing to write the output over the input");
    if (path_exists(target) && !settings_.force) return fail(target, "already exists (use -f to overwrite)");
  }

  AtomicOutputFile output;
  if (to_file) {
    problem = output.create(target);
    if (!problem.empty()) return fail(target, problem);
  }
  FdWriteBuffer file_buffer(output.fd());
  DiscardBuffer discard_buffer;
  std::streambuf* sink = to_file ? static_cast<std::streambuf*>(&file_buffer)
                        : to_stdout ? static_cast<std::streambuf*>(&stdout_buffer_)
                                    : static_cast<std::streambuf*>(&discard_buffer);
  FdWriteBuffer* sink_fd = to_file ? &file_buffer : to_stdout ? &stdout_buffer_ : nullptr;
  FdReadBuffer read_buffer(input.fd());
  std::istream in(&read_buffer);
  std::ostream out(sink);

  ProgressLine progress(show_progress_, DisplayName(file),
                        input.is_regular() ? static_cast<std::uint64_t>(input.status().st_size) : 0);
  lmzip::Stats stats;
  try {
    if (compressing) {
      CompressOptions options = compress_options_;
      options.progress = progress.callback();
      stats = lmzip::compress(in, out, options);
    } else {
      DecompressOptions options = decompress_options_;
      options.progress = progress.callback();
      stats = lmzip::decompress(in, out, options);
    }
  } catch (const lmzip::Error& e) {
    progress.clear();
    // Our buffers know the errno behind a failed read or write.
    if (read_buffer.error() != 0) return fail(file, "read error: " + errno_text(read_buffer.error()));
    if (sink_fd != nullptr && sink_fd->error() != 0) return write_failed(to_file ? target : "stdout", sink_fd->error());
    return fail(file, Describe(e));
  } catch (const std::bad_alloc&) {
    progress.clear();
    return fail(file, "out of memory");
  } catch (const std::exception& e) {
    progress.clear();
    return fail(file, std::string("internal error: ") + e.what());
  }
  progress.clear();
  if (read_buffer.error() != 0) return fail(file, "read error: " + errno_text(read_buffer.error()));
  if (sink_fd != nullptr && !sink_fd->flush_all()) return write_failed(to_file ? target : "stdout", sink_fd->error());

  if (to_file) {
    // A FIFO's or device's mode and times mean nothing for a regular file.
    problem = output.commit(input.is_regular() ? &input.status() : nullptr, settings_.force);
    if (!problem.empty()) return fail(target, problem);
  }

  for (const std::string& notice : stats.notices) spdlog::warn("{}: {}", DisplayName(file), notice);
  if (settings_.mode == Mode::Test)
    spdlog::info("{}: OK, {}", DisplayName(file), DescribeStats(stats));
  else
    spdlog::info("{}: {}", DisplayName(file), DescribeStats(stats));
  if (!stats.devices.empty()) spdlog::info("{}: {}", DisplayName(file), DescribeDevices(stats));

  // Only now is the output complete under its final name.
  if (settings_.remove_input && to_file && !input.is_stdin()) {
    problem = remove_file(file);
    if (!problem.empty()) return fail(file, "cannot remove input: " + problem);
  }
  return Outcome::Ok;
}

void SetUpLogging(int verbosity) {
  auto logger = spdlog::stderr_logger_st("lmzip");
  logger->set_pattern("lmzip: %v");
  spdlog::set_default_logger(logger);
  spdlog::level::level_enum level = verbosity >= 1    ? spdlog::level::info
                                    : verbosity == 0  ? spdlog::level::warn
                                    : verbosity == -1 ? spdlog::level::err
                                                      : spdlog::level::off;
  spdlog::set_level(level);
}

void AddTrainOptions(CLI::App& train, TrainOptions& t) {
  train.add_option("inputs", t.inputs, "training files and folders (read recursively)")->required();
  train.add_option("-o,--output", t.output, "model file to write")->required();
  train.add_option("--checkpoint-dir", t.checkpoint_dir, "checkpoints; training resumes from one if present");
  train.add_option("--name", t.name, "model name stored in the file")->capture_default_str();
  train.add_option("--tokenizer", t.tokenizer, "bytes or sentencepiece")
      ->check(CLI::IsMember({"bytes", "sentencepiece"}))
      ->capture_default_str();
  train.add_option("--vocab", t.vocab_size, "sentencepiece vocabulary size (0: 4096)")->capture_default_str();
  train.add_option("--sentencepiece-model", t.sentencepiece_model,
                   "a trained SentencePiece model (e.g. tokenizer.model of a checkpoint folder) to use instead of "
                   "training one; implies --tokenizer sentencepiece")
      ->type_name("FILE");
  train.add_option("--init-model", t.init_model,
                   "start from this model file's network and tokenizer (to fine-tune it on your data, or train it "
                   "on); its shape, window and chunk size replace the options below unless given")
      ->type_name("FILE");
  train.add_option("--width", t.config.width, "residual stream width")->capture_default_str();
  train.add_option("--layers", t.config.layers, "transformer layers")->capture_default_str();
  train.add_option("--heads", t.config.heads, "query heads")->capture_default_str();
  train.add_option("--kv-heads", t.config.kv_heads, "key/value heads")->capture_default_str();
  train.add_option("--head-dim", t.config.head_dim, "width of one head")->capture_default_str();
  train.add_option("--ffn", t.config.ffn, "feed-forward hidden width")->capture_default_str();
  train.add_option("--window", t.config.window, "attention span in symbols")->capture_default_str();
  train.add_option("--chunk-bytes", t.config.chunk_bytes, "default chunk size for compression")->capture_default_str();
  train.add_option("--steps", t.steps, "optimizer steps")->capture_default_str();
  train.add_option("--batch", t.batch, "sequences per step")->capture_default_str();
  train.add_option("--sequence", t.sequence, "symbols per sequence")->capture_default_str();
  train.add_option("--lr", t.learning_rate, "learning rate")->capture_default_str();
  train.add_option("--schedule", t.schedule,
                   "cosine (decay to a tenth at --steps) or wsd (constant, then decay to zero over the last "
                   "--decay-steps: a copy of a constant run's checkpoint folder can cool down while the run goes on)")
      ->check(CLI::IsMember({"cosine", "wsd"}))
      ->capture_default_str();
  train.add_option("--warmup", t.warmup_steps, "warmup steps (0: steps/20, at most 1000)")->capture_default_str();
  train.add_option("--decay-steps", t.decay_steps, "wsd: steps of the final decay (0: steps/5)")->capture_default_str();
  train.add_option("--holdout", t.holdout, "fraction of the data held out")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  train.add_option("--seed", t.seed, "random seed")->capture_default_str();
  train.add_option("--eval-every", t.eval_every, "steps between evaluations")->capture_default_str();
  train.add_option("--checkpoint-every", t.checkpoint_every, "steps between checkpoints")->capture_default_str();
  train.add_option("-T,--threads", t.threads, "CPU threads (tokenizing, training on the CPU)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  train.add_option("--device", t.device, "where the network trains: auto (CUDA when present), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  train.add_option("--matmul", t.matmul,
                   "the CPU's products in the linear layers and attention: bf16 (integers exact, gradients rounded to bf16), "
                   "f32, or auto (bf16 where the CPU and libtorch can)")
      ->check(CLI::IsMember({"auto", "bf16", "f32"}))
      ->capture_default_str();
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "lmzip: %s\nTry 'lmzip --help' for more information.\n", message.c_str());
  return 1;
}

// -1 ... -9; hidden where they repeat the main command's (after compress or
// decompress, where CLI11 would otherwise take "-9" for a file name).
void AddLevelFlags(CLI::App& app, int& level, const std::vector<lmzip::LevelInfo>& levels, bool shown,
                   int default_level = lmzip::default_level()) {
  for (const lmzip::LevelInfo& info : levels) {
    const int n = info.level;
    // trigger_on_parse: "-19" reads as -1 -9 and the last one wins.
    auto* flag = app.add_flag_callback("-" + std::to_string(n), [&level, n] { level = n; }, LevelHelp(info));
    flag->trigger_on_parse();
    flag->group(shown ? "Levels (default " + std::to_string(default_level) + ")" : "");
  }
}

// CLI11 takes some dashed words it cannot read as options for file names: -0,
// the -0 left of -10 once -1 is read, -.; a gzip or xz user meant options.
// Returns the usage error for the first dashed word before "--" with a letter
// that no option has, or "". Words after train or derive are theirs to parse.
std::string UnknownShortOption(const CLI::App& app, int argc, char** argv, const std::string& levels) {
  auto takes_value = [&app](const std::string& name) {
    const CLI::Option* option = app.get_option_no_throw(name);
    return option != nullptr && option->get_expected_min() > 0;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--" || word == "train" || word == "derive" || word == "ncd" || word == "classify" ||
        word == "score")
      break;
    if (word.size() < 2 || word[0] != '-') continue;
    if (word[1] == '-') {
      if (word.find('=') == std::string::npos && takes_value(word)) ++i;  // its value may start with -
      continue;
    }
    for (std::size_t k = 1; k < word.size(); ++k) {
      const std::string name{'-', word[k]};
      if (app.get_option_no_throw(name) == nullptr) {
        std::string message = "unknown option " + name;
        if (word.size() > 2) message += " in " + word;
        if (word[k] >= '0' && word[k] <= '9') message += " (levels are " + levels + ")";
        return message;
      }
      if (takes_value(name)) {
        if (k + 1 == word.size()) ++i;  // -o FILE; else -oFILE
        break;
      }
    }
  }
  return "";
}

int Main(int argc, char** argv) {
  Settings s;
  TrainOptions train_options;
  int verbose = 0, quiet = 0;
  bool decompress = false, compress = false, test = false, list = false, keep = false, version = false;
  // Links named unlmzip and lmzcat mean -d and -dc, as unxz and xzcat.
  const std::string called = BaseName(argc > 0 ? argv[0] : "");
  if (called == "unlmzip" || called == "lmzcat") decompress = true;
  if (called == "lmzcat") s.to_stdout = true;

  CLI::App app{"lmzip: lossless compression with a language model.\n"
               "With no FILE, or FILE -, read stdin and write stdout.",
               "lmzip"};
  app.footer(
      "A file named compress, decompress, train, derive, ncd, classify or score: put -- before it (lmzip -- compress).\n"
      "Called as unlmzip, lmzip means -d; as lmzcat, -dc.\n"
      "Models are searched in -m, $LMZIP_MODEL_PATH, then next to the program.\n"
      "Exit status: 0 ok, 1 error, 2 warning (a file skipped).");
  app.add_option("files", s.files, "files to process")->type_name("FILE");
  app.add_flag("-z,--compress", compress, "compress (the default)");
  app.add_flag("-d,--decompress,--uncompress", decompress, "decompress");
  app.add_flag("-t,--test", test, "decompress and verify, write nothing");
  app.add_flag("-l,--list", list, "list the contents of .lmz files (with -v: every stream and frame)");
  app.add_flag("-c,--stdout,--to-stdout", s.to_stdout, "write to stdout, keep the input");
  app.add_option("-o,--output", s.output, "write to FILE (one input only)")->type_name("FILE");
  app.add_flag("-f,--force", s.force,
               "overwrite outputs, write to terminals, read links, special files, set-user-ID, set-group-ID, "
               "sticky and hard-linked files");
  app.add_flag("-k,--keep", keep, "keep the input (the default)");
  app.add_flag("--rm", s.remove_input, "remove the input after success");
  app.add_option("-S,--suffix", s.suffix, "suffix of compressed files (default .lmz); .lmz and .tlmz still decompress")
      ->type_name("SUFFIX");
  app.add_flag("-r,--recursive", s.recursive,
               "for a folder, the files below it: those without the suffix, or with -d, -t or -l those with it");
  app.add_option("-T,--threads", s.threads, "worker threads (0: the cores this process may use)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("-m,--model", s.model, "model file to compress with")->type_name("MODEL");
  app.add_option("--device", s.device, "where the model runs: auto (CUDA when built in and present), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  // Like xz's --block-size: smaller chunks are more streams to step at once
  // (a GPU's speed on large inputs), larger ones restart the context less often.
  app.add_option("--chunk-size", s.chunk_bytes,
                 "compress in independent chunks of at most BYTES (1024 to 16 MiB; K and M suffixes; default: "
                 "the level's, below)")
      ->type_name("BYTES")
      ->transform(CLI::AsSizeValue(false).description(""))
      ->check(CLI::Range(1024u, 16u << 20).description(""));
  // As xz's -M: a size, a share of the machine's memory, or max; 0 the default.
  app.add_option_function<std::string>(
         "-M,--memlimit",
         [&s](const std::string& text) {
           const std::optional<std::uint64_t> limit = ParseMemoryLimit(text);
           if (!limit) throw CLI::ValidationError("-M", "'" + text + "' is not a size (as 512MiB, 2G, 40% or max)");
           s.memory_limit = *limit;
         },
         "memory the model and a frame's tables may take (e.g. 512MiB, 2G, 40% of RAM, max; default " +
             std::to_string(lmzip::default_memory_limit() >> 20) + " MiB): a file that needs more is refused")
      ->type_name("LIMIT");
  app.add_flag("-v,--verbose", verbose, "per-file sizes and the model's ideal size; repeatable");
  app.add_flag("-q,--quiet", quiet, "no warnings; twice: no errors either");
  const std::vector<lmzip::LevelInfo> levels = lmzip::levels();
  AddLevelFlags(app, s.level, levels, true);
  const int fastest = levels.front().level, best = levels.back().level;
  app.add_flag_callback("--fast", [&s, fastest] { s.level = fastest; }, "same as -" + std::to_string(fastest))
      ->trigger_on_parse();
  app.add_flag_callback("--best", [&s, best] { s.level = best; }, "same as -" + std::to_string(best))
      ->trigger_on_parse();
  app.add_flag("-V,--version", version, "print the version and exit");

  // The subcommands are names for modes; their flags and files go to the
  // main command (fallthrough), so `lmzip compress -c a` works as expected.
  auto* compress_cmd = app.add_subcommand("compress", "compress FILEs to FILE.lmz (as with no command)");
  auto* decompress_cmd = app.add_subcommand("decompress", "decompress FILE.lmz to FILE (as -d)");
  for (auto* cmd : {compress_cmd, decompress_cmd}) {
    cmd->fallthrough();
    cmd->set_help_flag();
    AddLevelFlags(*cmd, s.level, levels, false);
  }
  auto* train_cmd = app.add_subcommand("train", "train a model file from text");
  AddTrainOptions(*train_cmd, train_options);
  DeriveOptions derive_options;
  auto* derive_cmd = app.add_subcommand("derive", "write a copy of a model with another attention window");
  derive_cmd->add_option("model", derive_options.input, "model file to copy")->required()->type_name("MODEL");
  derive_cmd->add_option("-o,--output", derive_options.output, "model file to write (must not exist)")->required();
  derive_cmd->add_option("--window", derive_options.window, "attention window in symbols (shorter: faster)")
      ->required()
      ->check(CLI::Range(1u, 4096u));
  derive_cmd->add_option("--name", derive_options.name, "model name stored in the file (default: the input's)");
  AnalyzeOptions analyze_options;
  const AnalyzeCommands analyze_cmds = add_analyze_commands(app, analyze_options);
  for (CLI::App* cmd : {analyze_cmds.ncd, analyze_cmds.classify, analyze_cmds.score}) {
    AddLevelFlags(*cmd, analyze_options.level, levels, true, default_analyze_level(analyze_cmds, cmd));
    cmd->add_option("-T,--threads", analyze_options.threads, "worker threads (0: the cores this process may use)")
        ->check(CLI::Range(0, 4096))
        ->capture_default_str();
    cmd->add_option("-m,--model", analyze_options.model, "model file (default: the level's)")->type_name("MODEL");
    cmd->add_option("--device", analyze_options.device, "where the model runs: auto, cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    cmd->add_option_function<std::string>(
           "-M,--memlimit",
           [&analyze_options](const std::string& text) {
             const std::optional<std::uint64_t> limit = ParseMemoryLimit(text);
             if (!limit) throw CLI::ValidationError("-M", "'" + text + "' is not a size (as 512MiB, 2G, 40% or max)");
             analyze_options.memory_limit = *limit;
           },
           "memory the model and its per-text tables may take (as for compressing)")
        ->type_name("LIMIT");
    cmd->add_flag("-v,--verbose", verbose, "progress on stderr");
  }
  app.require_subcommand(0, 1);

  const std::string unknown =
      UnknownShortOption(app, argc, argv, "-" + std::to_string(fastest) + " to -" + std::to_string(best));
  if (!unknown.empty()) return UsageError(unknown);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      // `lmzip compress -h` means the main help: those commands share its options.
      if (dynamic_cast<const CLI::CallForHelp*>(&e) != nullptr && !train_cmd->parsed() && !derive_cmd->parsed() &&
          !analyze_cmds.ncd->parsed() && !analyze_cmds.classify->parsed() && !analyze_cmds.score->parsed()) {
        std::fputs(app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal).c_str(), stdout);
        return 0;
      }
      return app.exit(e);  // train -h, derive -h, --help-all
    }
    return UsageError(e.what());
  }

  if (version) {
    std::printf("lmzip %s\n", lmzip::version());
    return 0;
  }
  s.verbosity = verbose - quiet;
  SetUpLogging(s.verbosity);

  if (train_cmd->parsed()) {
    if (!s.files.empty()) return UsageError("train takes its inputs after the word train");
    if (!train_options.init_model.empty()) {
      for (const char* shape : {"--tokenizer", "--vocab", "--sentencepiece-model", "--width", "--layers", "--heads",
                                "--kv-heads", "--head-dim", "--ffn"})
        if (train_cmd->count(shape))
          return UsageError(std::string(shape) + " cannot go with --init-model: the model file sets it");
      if (!train_cmd->count("--window")) train_options.config.window = 0;
      if (!train_cmd->count("--chunk-bytes")) train_options.config.chunk_bytes = 0;
    }
    if (!train_options.sentencepiece_model.empty()) {
      if (train_cmd->count("--tokenizer") && train_options.tokenizer != "sentencepiece")
        return UsageError("--sentencepiece-model needs --tokenizer sentencepiece");
      train_options.tokenizer = "sentencepiece";
    }
    try {
      lmzip::cli::run_train_module(train_options);
    } catch (const std::exception& e) {
      spdlog::error("train: {}", e.what());
      return 1;
    }
    return 0;
  }

  if (derive_cmd->parsed()) {
    if (!s.files.empty()) return UsageError("derive takes its model after the word derive");
    try {
      derive_model(derive_options);
    } catch (const std::exception& e) {
      spdlog::error("derive: {}", e.what());
      return 1;
    }
    return 0;
  }

  if (analyze_cmds.ncd->parsed() || analyze_cmds.classify->parsed() || analyze_cmds.score->parsed()) {
    if (!s.files.empty()) return UsageError("ncd, classify and score take their files after the command's name");
    analyze_options.verbosity = s.verbosity;
    return run_analyze(analyze_cmds, analyze_options);
  }

  if (list) s.mode = Mode::List;
  else if (test) s.mode = Mode::Test;
  else if (decompress || decompress_cmd->parsed()) s.mode = Mode::Decompress;
  (void)compress;  // compression is the default; -z only documents intent
  if (compress_cmd->parsed() && s.mode != Mode::Compress) return UsageError("compress cannot be combined with -d, -t or -l");

  if (keep && s.remove_input) return UsageError("-k and --rm cannot be combined");
  if (s.suffix.empty() || s.suffix.find('/') != std::string::npos)
    return UsageError("invalid suffix '" + s.suffix + "': it must be non-empty and have no /");
  if (s.recursive && !s.output.empty()) return UsageError("-o and -r cannot be combined");
  if (s.files.empty()) s.files.push_back("-");
  if (!s.output.empty()) {
    if (s.files.size() != 1) return UsageError("-o needs exactly one input file");
    if (s.to_stdout) return UsageError("-o and -c cannot be combined");
  }

  install_cleanup_on_signals();
  FileProcessor processor(s);
  return static_cast<int>(processor.run());
}

}  // namespace
}  // namespace lmzip::cli

int main(int argc, char** argv) {
  try {
    return lmzip::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmzip: internal error: %s\n", e.what());
    return 1;
  }
}

// lmzip: lossless compression with a language model and a range coder.
//
// Streams in, streams out. A compressed stream names its model by the SHA-256
// of the model file; decompression finds that model in the search path.
#pragma once
#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmzip {

// Every failure the library reports. what() is one line, without the file name
// (the caller knows which file it was working on).
class Error : public std::runtime_error {
 public:
  enum class Kind {
    Corrupt,        // the input is not a valid .lmz stream (truncated, bad checksum, foreign)
    ModelMissing,   // the model the stream names is not in the search path
    ModelInvalid,   // a model file is unreadable, malformed, or fails its self-test
    Io,             // reading or writing failed
    Usage,          // bad option value
    MemoryLimit,    // the work needs more memory than the options' memory_limit
  };
  Error(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Where models are looked for, in order: explicit_path (if set), then each
// directory of $LMZIP_MODEL_PATH (colon-separated), then the directories
// next to the program (<exe>/models, <exe>/../share/lmzip/models), then the
// source tree's models/.
struct ModelSearch {
  std::string explicit_path;  // -m FILE
  std::string program_path;   // argv[0] resolved, to find models next to it
  std::vector<std::string> directories() const;
};

// Progress: bytes read from the input so far, bytes written so far.
using ProgressFn = std::function<void(std::uint64_t in, std::uint64_t out)>;

struct CompressOptions {
  ModelSearch models;
  int level = 0;            // 1..9, 0: the default (levels()); picks the model when models.explicit_path is empty
  int threads = 1;          // threads sharing each model step; output does not depend on it
  std::string device = "auto";  // "cpu", "cuda", or "auto" (cuda when built in and present); output does not depend on it
  std::uint32_t chunk_bytes = 0;  // 0: the model's default
  std::uint64_t memory_limit = 0;  // bytes; 0: default_memory_limit(); threads are cut to fit it first
  ProgressFn progress;
};

struct DecompressOptions {
  ModelSearch models;
  int threads = 1;
  std::string device = "auto";
  // Bytes; 0: default_memory_limit(). A file whose frames need more (their
  // declared sizes say how much before anything is allocated) is refused
  // with Error(MemoryLimit); threads are cut to fit it first.
  std::uint64_t memory_limit = 0;
  ProgressFn progress;
};

// The memory limit when none is set: what the shipped levels need, with room.
std::uint64_t default_memory_limit();

// Which device computed frames [first_frame, first_frame + frames) of a run
// (frames counted from 0 over every stream; frames with no coded chunk are
// in no run).
struct DeviceRun {
  std::uint64_t first_frame = 0;
  std::uint64_t frames = 0;
  std::string device;  // "CPU", or "CUDA: " and the GPU's name
};

struct Stats {
  std::uint64_t original_bytes = 0;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t chunks = 0;
  std::uint64_t stored_chunks = 0;
  std::uint64_t symbols = 0;
  double ideal_bits = 0;     // sum of -log2 p over the coded symbols (model's ideal size), and 8 bits a
                             // payload byte of stored and LZMA2 chunks (compress only)
  std::string model_id;      // hex SHA-256 of the model (last stream's, for decompress)
  std::string model_name;
  std::uint64_t frames = 0;
  std::uint64_t lzma2_frames = 0;    // of `frames`, those holding LZMA2 chunks
  std::uint64_t context_mixing_frames = 0;  // of `frames`, those holding context-mixing chunks
  std::uint64_t media_frames = 0;    // of `frames`, those holding image or audio chunks
  std::vector<DeviceRun> devices;    // in frame order
  std::vector<std::string> notices;  // requests that could not be honoured (e.g. --device), once each
};

// Reads in to its end and writes one .lmz stream to out.
Stats compress(std::istream& in, std::ostream& out, const CompressOptions& options);

// Decodes every concatenated stream of in into out. Each frame is verified
// (checksum) before any of its bytes are written. Throws Error on failure;
// bytes of frames before the failing one may have been written.
Stats decompress(std::istream& in, std::ostream& out, const DecompressOptions& options);

// The chunks of one chunk mode in a frame.
struct ChunkModeCount {
  std::string mode;         // the mode's name (docs/format.md), e.g. "adapted-large"
  std::uint64_t chunks = 0;
  std::vector<int> levels;  // the levels that write this mode, ascending; none for "stored" (any level
                            // stores a chunk the model would expand) and for modes no level writes;
                            // all for "lzma2" (every level picks it for a frame where it is smaller)
};

// One frame, from its chunk table.
struct FrameInfo {
  std::uint64_t offset = 0;            // of the frame's first byte, from the start of the input
  std::uint64_t original_bytes = 0;
  std::uint64_t compressed_bytes = 0;  // chunk table, payloads and checksums
  std::uint64_t chunks = 0;
  std::uint64_t stored_chunks = 0;
  std::vector<ChunkModeCount> modes;   // those used, in the order of docs/format.md's mode table
  std::string model_id;                // hex SHA-256 of the model in force for the frame (its stream's
                                       // header's, or its last model block's)
};

// One entry per stream, from headers and chunk tables only (no decoding).
struct StreamInfo {
  std::string model_id;  // the header's: the model of the frames before any model block
  std::uint64_t offset = 0;  // of the stream's first byte, from the start of the input
  std::uint64_t original_bytes = 0;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t frames = 0;
  std::uint64_t chunks = 0;
  std::uint64_t stored_chunks = 0;
  std::vector<FrameInfo> frame_details;  // one per frame, in order
};
std::vector<StreamInfo> list(std::istream& in);

// The model compress() would use for these options: its path and name, and the
// model id (hex). Throws Error(ModelMissing) if none is found.
struct ModelInfo {
  std::string path;
  std::string name;
  std::string id;
};
ModelInfo resolve_model(const CompressOptions& options);

// The model whose id (hex, as StreamInfo::model_id) is model_id, looked up as
// decompress() looks it up. Throws Error(ModelMissing) if none is found.
ModelInfo find_model(const ModelSearch& models, const std::string& model_id);

// What a compression level means (src/engine/levels.h holds the table).
struct LevelInfo {
  int level = 0;
  std::string model_file;                // the model it compresses with (by file name)
  std::string binary_model_file;         // the model of frames that do not look like text, where
                                         // installed; empty: none (model_file codes them)
  std::uint64_t largest_chunk_bytes = 0;   // 0: the model's own chunk size
  std::uint64_t smallest_chunk_bytes = 0;  // short frames are cut into chunks no smaller
  std::string summary;
};
std::vector<LevelInfo> levels();
int default_level();

const char* version();

}  // namespace lmzip

// ---------------------------------------------------------------------------
// The model as a measure: code lengths, compression distance, classification
// (lmzip ncd, classify and score; docs/cli.md).
// ---------------------------------------------------------------------------
namespace lmzip {

class CodeLengthEngine;

// Code lengths under the model and level of a CompressOptions (level, -m,
// threads, device, memory_limit as for compress; progress unused). A text's
// length is C(text): the ideal length in bits of the text coded alone, as
// compress() would code it as a file of its own (the sum over its symbols of
// -log2 of the symbol's share in the model's mixed table; the range coder
// comes within 0.1% of it, plus a few flush bytes and the headers, which are
// the same for every text and would only blur small differences). It does
// not depend on the other texts, the thread count or the device.
class CodeLengths {
 public:
  explicit CodeLengths(const CompressOptions& options);
  ~CodeLengths();
  CodeLengths(const CodeLengths&) = delete;
  CodeLengths& operator=(const CodeLengths&) = delete;

  ModelInfo model() const;
  std::vector<double> bits(const std::vector<std::string>& texts);

  // One line of a text: its bytes (the '\n' included, where there is one)
  // and the bits of the symbols that start in it, the text coded whole.
  struct LineBits {
    std::uint64_t bytes = 0;
    double bits = 0;
  };
  std::vector<std::vector<LineBits>> line_bits(const std::vector<std::string>& texts);

  // out[i][j] = ncd(C(a[i] b[j]), C(a[i]), C(b[j])), a[i] and b[j] joined
  // with nothing between. progress(pairs done, pairs), if given, after each run.
  std::vector<std::vector<double>> ncd_matrix(const std::vector<std::string>& a, const std::vector<std::string>& b,
                                              const std::function<void(std::size_t, std::size_t)>& progress = {});

 private:
  std::unique_ptr<CodeLengthEngine> engine_;
};

// Normalized compression distance: (cxy - min(cx, cy)) / max(cx, cy); 0 when
// both cx and cy are 0.
double ncd(double cxy, double cx, double cy);

// k-nearest-neighbour vote. distances[t]: the distance to training item t,
// of label labels[t]. The neighbours are the k items of least (distance, t);
// each votes for its label; the label with most votes wins, and a tie goes
// to the tied label whose nearest neighbour comes first in that order (with
// k = 1: the nearest item's label). Error(Usage) if k < 1 or there are no
// items or the sizes differ.
std::size_t knn_label(const std::vector<double>& distances, const std::vector<std::size_t>& labels, int k);

// A classifier's results against the truth, classes 0..classes-1.
struct Evaluation {
  std::size_t total = 0;
  std::size_t correct = 0;
  double accuracy = 0;                            // correct / total (0 when total is 0)
  std::vector<std::vector<std::size_t>> confusion;  // [true][predicted]
  std::vector<std::size_t> support;               // items of each true class
  std::vector<std::size_t> predicted;             // items predicted as each class
  std::vector<double> precision;                  // correct of the class / predicted; NaN when none predicted
  std::vector<double> recall;                     // correct of the class / support; NaN when no support
};
Evaluation evaluate(const std::vector<std::size_t>& truth, const std::vector<std::size_t>& predicted,
                    std::size_t classes);

}  // namespace lmzip

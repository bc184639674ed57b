// What each compression level means: one row of one table (as zstd's
// clevels.h). compress() reads the row; the CLI's help and docs/cli.md state
// what it says.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "format/chunk_recipe.h"
#include "lmzip/lmzip.h"

namespace lmzip {

struct LevelSettings {
  int level;
  std::string_view model_file;     // in the model search path (lmzip.h ModelSearch)
  // The model of frames that do not look like text (frame_choice.h); empty,
  // or not in the search path: model_file codes those too.
  std::string_view binary_model_file;
  std::size_t largest_chunk_bytes;  // chunks of at most this (0: the model's own chunk size; the larger wins)
  std::size_t smallest_chunk_bytes;  // a short frame is cut into more chunks while they keep this size
  ChunkMode mode;                  // what codes the chunks (format/chunk_recipe.h)
  ChunkMode mode_without_adaptation;  // for networks too wide to adapt their output layer
  // Deflate streams inflated for context mixing (chunk mode 13) grow a frame
  // to at most this many times its size (0: to context mixing's limit).
  unsigned most_inflation;
  // The binary model's network, where it predicts bytes, is mixed into
  // context mixing (chunk mode 14); otherwise it codes a non-text frame
  // alone, only where context mixing cannot run (-M too small for it).
  bool mixes_binary_model;
  std::string_view summary;        // for --help
};

// The fast and default groups' lighter levels (2, 4) adapt the output over
// the narrow counts: a fifth of the memory of the large counts, 1.15 to 1.25
// times as fast, 2 to 2.3% larger on the bench text. Level 1 keeps no
// adaptation (a large share of a small network's step). Level 9 codes a frame
// in few long chunks: more, smaller adaptation steps and longer match
// histories (world192.txt 374,750 -> 368,046 bytes, book1 176,757 ->
// 175,320), affordable at the slowest level. Smaller chunks at lower levels
// fill more of a batch; larger ones restart the context less often.
// Context mixing codes about 210 KB of inflated deflate streams a second:
// the fast levels inflate a frame to at most 4 times its size, so a binary
// frame still codes at 50 KB/s or more; the others inflate whatever zlib
// reproduces (a gzip'd log inflates 5 to 10 times, and context mixing codes
// it far smaller than its deflate).
inline constexpr LevelSettings kLevels[] = {
    // level model         binary model     largest     smallest    mode                                 without adaptation                   inflation  mixes binary  summary
    {1, "fast.lmzm",       "binary.lmzm",   0,          8u << 10,   ChunkMode::CodedFrameCounted,        ChunkMode::CodedFrameCounted,        4, false,        "fastest: the fast model with narrow context counts"},
    {2, "fast.lmzm",       "binary.lmzm",   0,          16u << 10,  ChunkMode::CodedAdaptedNarrow,       ChunkMode::CodedFrameCounted,        4, false,        "the fast model, output adaptation over narrow counts"},
    {3, "fast.lmzm",       "binary.lmzm",   0,          32u << 10,  ChunkMode::CodedAdapted,             ChunkMode::CodedFrameCounted,        4, false,        "the fast model, output adaptation over large counts"},
    {4, "default.lmzm",    "binary.lmzm",   0,          8u << 10,   ChunkMode::CodedAdaptedNarrow,       ChunkMode::CodedFrameCountedLarge,   0, false,        "the default model, output adaptation over narrow counts"},
    {5, "default.lmzm",    "binary.lmzm",   0,          16u << 10,  ChunkMode::CodedAdapted,             ChunkMode::CodedFrameCountedLarge,   0, false,        "the default model, output adaptation over large counts"},
    {6, "default.lmzm",    "binary.lmzm",   0,          32u << 10,  ChunkMode::CodedAdapted,             ChunkMode::CodedFrameCountedLarge,   0, false,        "as 5, longer chunks for short inputs"},
    {7, "max.lmzm",        "binary.lmzm",   0,          8u << 10,   ChunkMode::CodedAdapted,             ChunkMode::CodedFrameCountedLarge,   0, true,         "the max model, output adaptation over large counts; the binary network in context mixing"},
    {8, "max.lmzm",        "binary.lmzm",   0,          16u << 10,  ChunkMode::CodedAdapted,             ChunkMode::CodedFrameCountedLarge,   0, true,         "as 7, longer chunks for short inputs"},
    {9, "max.lmzm",        "binary.lmzm",   1u << 20,   512u << 10, ChunkMode::CodedAdapted,             ChunkMode::CodedFrameCountedLarge,   0, true,         "best: the max model in few long chunks; the binary network in context mixing"},
};
inline constexpr int kMinLevel = 1;
inline constexpr int kMaxLevel = 9;
inline constexpr int kDefaultLevel = 5;
// Where a level's own model is not installed, it compresses with this one.
inline constexpr std::string_view kFallbackModelFile = "default.lmzm";

constexpr bool levels_in_order() {
  for (std::size_t i = 0; i < std::size(kLevels); ++i)
    if (kLevels[i].level != kMinLevel + static_cast<int>(i)) return false;
  return std::size(kLevels) == kMaxLevel - kMinLevel + 1 && kDefaultLevel >= kMinLevel && kDefaultLevel <= kMaxLevel;
}
static_assert(levels_in_order(), "kLevels[l - kMinLevel] is level l's row");

// The row of `level` (0: kDefaultLevel); Error(Usage) outside kMinLevel..kMaxLevel.
const LevelSettings& level_settings(int level);

// The largest chunk at this level for a model whose own chunk size is
// `model_chunk_bytes`, when the user sets none.
std::size_t largest_chunk_bytes(const LevelSettings& level, std::size_t model_chunk_bytes);

// The mode that codes this level's chunks with a network of `width`.
ChunkMode level_mode(const LevelSettings& level, std::uint32_t network_width);

// The model file for the frames that do not look like text at these
// options' level: its path, or empty where -m names the model, the level
// names no binary model or the search path lacks it (then the level's model
// codes every frame).
std::string binary_model_path(const CompressOptions& options);

// The levels whose chunks `mode` may code (as mode or mode_without_adaptation;
// lzma2, image, audio: every level; stored: none), ascending.
std::vector<int> levels_writing(ChunkMode mode);

}  // namespace lmzip

// What each chunk mode of the container is made of: the one place where mode
// numbers are defined (docs/format.md specifies each part). A new kind of
// chunk is a row here, its section of docs/format.md and its tests; the
// container's validation, the per-frame models' set-up and the choice of
// backend read these rows.
// Depends only on the standard library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace lmzip {

// The byte a chunk entry stores. The names say what the rows below say.
enum class ChunkMode : std::uint8_t {
  Stored = 0,
  Coded = 1,
  CodedMatched = 2,
  CodedFrameMatched = 3,
  CodedFrameCounted = 4,
  CodedFrameCountedWide = 5,
  CodedFrameCountedLarge = 6,
  CodedAdapted = 7,
  CodedAdaptedNarrow = 8,
  Lzma2 = 9,
  Image = 10,
  Audio = 11,
  ContextMixing = 12,
  InflatedContextMixing = 13,
  NetworkContextMixing = 14,
};

// What turns a chunk's payload back into its bytes.
enum class ChunkCoder : std::uint8_t {
  Stored,   // the payload is the bytes
  Network,  // the range coder over the model's network (and the row's frame models)
  Lzma2,    // a raw LZMA2 stream (coder/lzma2_coder.h); the model takes no part
  Image,    // pixels coded by the image codec (media/image_codec.h); no model
  Audio,    // samples coded by the audio codec (media/audio_codec.h); no model
  ContextMixing,  // bytes coded by context mixing (coder/context_mixing.h); no model
  InflatedContextMixing,  // deflate streams inflated, then context mixing (coder/deflate_streams.h); no model
  NetworkContextMixing,   // context mixing with the frame's byte-level network mixed in (coder/context_mixing.h)
};

// Which history the match model follows (docs/format.md "Match model").
enum class MatchScope : std::uint8_t {
  None,   // no matches
  Chunk,  // the chunk's own history
  Frame,  // its own, then that of every other frame-sharing chunk of its frame so far
};

// The frame's context counts (docs/format.md "Context counts"); each shape's
// sizes are adapt/context_counts.h's.
enum class CountsKind : std::uint8_t { None, Narrow, Wide, WideLarge };


struct ChunkRecipe {
  ChunkMode mode;
  std::string_view name;       // for messages and `lmzip -l -v`
  ChunkCoder coder;
  MatchScope matches;
  CountsKind counts;
  bool adapts_output;          // the frame's output adaptation (docs/format.md)
};

inline constexpr ChunkRecipe kChunkRecipes[] = {
    // mode                              name                   coder                matches             counts                 adapts
    {ChunkMode::Stored,                  "stored",              ChunkCoder::Stored,  MatchScope::None,   CountsKind::None,      false},
    {ChunkMode::Coded,                   "network",             ChunkCoder::Network, MatchScope::None,   CountsKind::None,      false},
    {ChunkMode::CodedMatched,            "chunk-matches",       ChunkCoder::Network, MatchScope::Chunk,  CountsKind::None,      false},
    {ChunkMode::CodedFrameMatched,       "frame-matches",       ChunkCoder::Network, MatchScope::Frame,  CountsKind::None,      false},
    {ChunkMode::CodedFrameCounted,       "counts-narrow",       ChunkCoder::Network, MatchScope::Frame,  CountsKind::Narrow,    false},
    {ChunkMode::CodedFrameCountedWide,   "counts-wide",         ChunkCoder::Network, MatchScope::Frame,  CountsKind::Wide,      false},
    {ChunkMode::CodedFrameCountedLarge,  "counts-large",        ChunkCoder::Network, MatchScope::Frame,  CountsKind::WideLarge, false},
    {ChunkMode::CodedAdapted,            "adapted-large",       ChunkCoder::Network, MatchScope::Frame,  CountsKind::WideLarge, true},
    {ChunkMode::CodedAdaptedNarrow,      "adapted-narrow",      ChunkCoder::Network, MatchScope::Frame,  CountsKind::Narrow,    true},
    {ChunkMode::Lzma2,                   "lzma2",               ChunkCoder::Lzma2,   MatchScope::None,   CountsKind::None,      false},
    {ChunkMode::Image,                   "image",               ChunkCoder::Image,   MatchScope::None,   CountsKind::None,      false},
    {ChunkMode::Audio,                   "audio",               ChunkCoder::Audio,   MatchScope::None,   CountsKind::None,      false},
    {ChunkMode::ContextMixing,           "context-mix",         ChunkCoder::ContextMixing, MatchScope::None, CountsKind::None, false},
    {ChunkMode::InflatedContextMixing,   "inflated-context-mix", ChunkCoder::InflatedContextMixing, MatchScope::None, CountsKind::None, false},
    {ChunkMode::NetworkContextMixing,    "network-context-mix", ChunkCoder::NetworkContextMixing, MatchScope::None, CountsKind::None, false},
};

constexpr bool rows_in_mode_order() {
  for (std::size_t i = 0; i < std::size(kChunkRecipes); ++i)
    if (static_cast<std::size_t>(kChunkRecipes[i].mode) != i) return false;
  return true;
}
static_assert(rows_in_mode_order(), "kChunkRecipes[m] is the row of mode m");

// The row of a mode byte read from a file, or nullptr for an unknown mode.
constexpr const ChunkRecipe* find_recipe(std::uint8_t mode) {
  return mode < std::size(kChunkRecipes) ? &kChunkRecipes[mode] : nullptr;
}
// The row of a known mode.
constexpr const ChunkRecipe& recipe(ChunkMode mode) { return kChunkRecipes[static_cast<std::size_t>(mode)]; }

// Coded with the model's network (not stored, not LZMA2).
constexpr bool is_network_coded(ChunkMode mode) { return recipe(mode).coder == ChunkCoder::Network; }
// Coded by a general-purpose byte coder instead of the model's token coder:
// LZMA2 or context mixing, of the bytes or of their deflate streams inflated,
// or with a byte network's predictions mixed in (a frame holds these or
// network-coded chunks, never both).
constexpr bool is_byte_coded(ChunkMode mode) {
  const ChunkCoder coder = recipe(mode).coder;
  return coder == ChunkCoder::Lzma2 || coder == ChunkCoder::ContextMixing || coder == ChunkCoder::InflatedContextMixing ||
         coder == ChunkCoder::NetworkContextMixing;
}
// Decoded with the frame's model: its network codes the chunk or takes part.
constexpr bool needs_model(ChunkMode mode) {
  return is_network_coded(mode) || recipe(mode).coder == ChunkCoder::NetworkContextMixing;
}
// Keeps the frame's context counts, whose shape the mode sets; a frame's
// counted chunks share one mode (the container checks it).
constexpr bool is_counted(ChunkMode mode) { return recipe(mode).counts != CountsKind::None; }
// Sees the other chunks of its frame (frame matches or counts).
constexpr bool shares_frame(ChunkMode mode) { return recipe(mode).matches == MatchScope::Frame; }

}  // namespace lmzip

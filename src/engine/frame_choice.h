// Which coder takes a frame: the model or LZMA2 (docs/format.md "LZMA2
// chunks"). compress() codes a frame both ways and keeps the smaller, except
// where a cheap test says one of the two cannot win.
#pragma once
#include <cstddef>
#include <cstdint>

#include "format/container.h"

namespace lmzip {

// A frame whose LZMA2 coding takes fewer bits per byte than this (payloads
// and chunk entries) is not coded by the model. On the bench files the model
// lost every frame LZMA2 codes below 0.7 (at -1 and -5); it won at 0.79 at -5
// (a tar of source code, 8% smaller) (bench/results/lzma2-frames.md).
constexpr double kLzma2SkipsModelBelowBitsPerByte = 0.7;

// The frame data[0, size) (at most kMaxFrameBytes) as LZMA2 chunks of at most
// kMaxChunkBytes, cut evenly; a chunk LZMA2 cannot shrink is stored. Up to
// `threads` chunks are coded at once, each taking lzma2_encoder_bytes() of
// memory. The original CRC is left to the caller.
Frame lzma2_frame(const std::uint8_t* data, std::size_t size, std::size_t threads);

// What a frame's chunks take in the container beyond the frame's fixed bytes:
// their entries and payloads (the fixed bytes are the same whichever codes it).
std::uint64_t frame_cost(const Frame& frame);

// True for bytes that look like text (no more than 1 in 1,000 bytes are
// control bytes other than tab, line feed, vertical tab, form feed, carriage
// return and escape). The model codes text far better than LZMA2 does, so
// such a frame skips LZMA2. Integer arithmetic only.
bool looks_like_text(const std::uint8_t* data, std::size_t size);

}  // namespace lmzip

// The .lmz container, version 1 (docs/format.md is the specification).
//
//   stream  := header (model? frame)* end
//   header  := magic "\x89LMZ" | version u8 (=1) | flags u8 (=0) | model id [32] | crc32 u32
//   frame   := 0x01 | chunk count u32 | chunk entry * count | crc32 u32 (of the bytes from 0x01)
//              | payloads (in chunk order) | crc32 u32 of the frame's original bytes
//   chunk entry := mode u8 (format/chunk_recipe.h) | original size u32 | symbol count u32 | payload size u32
//   model   := 0x02 | model id [32] | crc32 u32 (of the 33 bytes before it): the model of the frames after it
//   end     := 0x00 | original size u64 | frame count u64 | crc32 u32 (of the bytes from 0x00)
// All integers little-endian. Several streams may follow each other (cat a.lmz b.lmz).
// Depends only on the standard library and src/hash.
#pragma once
#include <array>
#include <cstdint>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "format/chunk_recipe.h"

namespace lmzip {

constexpr std::array<std::uint8_t, 4> kMagic = {0x89, 'L', 'M', 'Z'};
constexpr std::uint8_t kFormatVersion = 1;
// Limits a reader enforces before allocating anything a header declares.
constexpr std::uint32_t kMaxChunkBytes = 16u << 20;   // original bytes of one chunk
constexpr std::uint32_t kMaxChunksPerFrame = 4096;
constexpr std::uint64_t kMaxFrameBytes = 64u << 20;   // original bytes of one frame

// Thrown for anything a reader cannot accept: truncation, bad checksum, bad field.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ChunkEntry {
  ChunkMode mode = ChunkMode::Stored;
  std::uint32_t original_size = 0;
  std::uint32_t symbol_count = 0;  // 0 for stored chunks
  std::uint32_t payload_size = 0;  // == original_size for stored chunks
};

using ModelId = std::array<std::uint8_t, 32>;  // SHA-256 of a model file

struct StreamHeader {
  ModelId model_id{};  // the model of the frames before any model block
};

struct Frame {
  // The model that codes the frame's chunks. The reader sets the model in
  // force; the writer writes a model block first where it differs from the
  // model in force, and takes an all-zero id as the model in force.
  ModelId model_id{};
  std::vector<ChunkEntry> chunks;
  std::vector<std::vector<std::uint8_t>> payloads;  // one per chunk
  std::uint32_t original_crc = 0;                    // crc32 of the frame's original bytes
  std::uint64_t offset = 0;                          // set by the reader: the frame's byte offset in its input
  std::uint64_t original_size() const;
  // Set by the reader: the byte offset of chunk i's payload in the input.
  std::uint64_t payload_offset(std::size_t i) const;
};

struct StreamTrailer {
  std::uint64_t original_size = 0;
  std::uint64_t frame_count = 0;
};

class ContainerWriter {
 public:
  // The header is written with the first frame or finish(): a writer that
  // fails before either (a run refused for memory) leaves nothing behind.
  ContainerWriter(std::ostream& out, const StreamHeader& header);
  // Validates (std::invalid_argument for a frame a reader would reject), then writes.
  void write_frame(const Frame& frame);
  void finish();  // writes the end block; no write_frame() afterwards
  // A failed write throws std::runtime_error.
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  void put(const void* data, std::size_t size);
  std::ostream& out_;
  std::vector<std::uint8_t> header_;  // until the first write
  std::uint64_t bytes_written_ = 0;
  std::uint64_t original_size_ = 0;
  std::uint64_t frame_count_ = 0;
  ModelId model_in_force_{};
  bool finished_ = false;
};

// Reads streams one after another. Positions are byte offsets in the input,
// for error messages.
class ContainerReader {
 public:
  explicit ContainerReader(std::istream& in);
  // Reads the next stream's header. Returns false at a clean end of input
  // (no byte left); throws FormatError for anything else that is not a header.
  bool next_stream(StreamHeader& header);
  // Reads the next frame of the current stream, and the model block before
  // it if there is one (frame.model_id: the model in force). Returns false
  // after the end block, whose fields are then in trailer(); the trailer is checked against
  // the frames read (size and count).
  bool next_frame(Frame& frame);
  const StreamTrailer& trailer() const { return trailer_; }
  std::uint64_t offset() const { return offset_; }

 private:
  void get(void* data, std::size_t size, const char* what);
  bool read_frame(Frame& frame, std::uint64_t start);
  std::istream& in_;
  std::uint64_t offset_ = 0;
  StreamTrailer trailer_;
  ModelId model_in_force_{};
  std::uint64_t original_size_ = 0;
  std::uint64_t frame_count_ = 0;
  bool in_stream_ = false;
};

}  // namespace lmzip

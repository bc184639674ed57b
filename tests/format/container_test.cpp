// The .lmz container: golden bytes, round trips, concatenation, and a reader
// that rejects every truncation, corrupted header or table, and oversized
// declaration with a FormatError, before allocating what was declared.
#include "format/container.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>

#include "allocation_tracker.h"
#include "hash/crc32.h"

namespace lmzip {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct ReadStream {
  StreamHeader header;
  std::vector<Frame> frames;
  StreamTrailer trailer;
};

// Reads every stream in `bytes`, as a decoder would.
std::vector<ReadStream> read_all(const Bytes& bytes) {
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  ContainerReader reader(in);
  std::vector<ReadStream> streams;
  ReadStream stream;
  while (reader.next_stream(stream.header)) {
    Frame frame;
    while (reader.next_frame(frame)) stream.frames.push_back(frame);
    stream.trailer = reader.trailer();
    streams.push_back(stream);
    stream = ReadStream{};
  }
  EXPECT_EQ(reader.offset(), bytes.size());
  return streams;
}

std::string read_error(const Bytes& bytes) {
  try {
    read_all(bytes);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(no error)";
}

Bytes write_stream(const StreamHeader& header, const std::vector<Frame>& frames) {
  std::ostringstream out;
  ContainerWriter writer(out, header);
  for (const Frame& frame : frames) writer.write_frame(frame);
  writer.finish();
  const std::string s = out.str();
  EXPECT_EQ(writer.bytes_written(), s.size());
  return Bytes(s.begin(), s.end());
}

Frame stored_frame(const std::string& text) {
  Frame frame;
  frame.chunks.push_back({ChunkMode::Stored, static_cast<std::uint32_t>(text.size()), 0,
                          static_cast<std::uint32_t>(text.size())});
  frame.payloads.emplace_back(text.begin(), text.end());
  frame.original_crc = crc32(text.data(), text.size());
  return frame;
}

// A frame of several chunks, coded and stored, with random contents.
Frame random_frame(std::mt19937& rng, std::size_t chunks) {
  Frame frame;
  for (std::size_t i = 0; i < chunks; ++i) {
    ChunkEntry entry;
    entry.original_size = 1 + rng() % 3000;
    if (rng() % 2) {
      entry.mode = ChunkMode::Coded;
      entry.payload_size = rng() % (entry.original_size + 1);
      entry.symbol_count = 1 + rng() % entry.original_size;
    } else {
      entry.payload_size = entry.original_size;
    }
    Bytes payload(entry.payload_size);
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
    frame.chunks.push_back(entry);
    frame.payloads.push_back(payload);
  }
  frame.original_crc = static_cast<std::uint32_t>(rng());
  return frame;
}

StreamHeader header_with_id(std::uint8_t first) {
  StreamHeader header;
  for (std::size_t i = 0; i < header.model_id.size(); ++i) header.model_id[i] = static_cast<std::uint8_t>(first + i);
  return header;
}

void expect_same_frames(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t f = 0; f < a.size(); ++f) {
    ASSERT_EQ(a[f].chunks.size(), b[f].chunks.size());
    for (std::size_t c = 0; c < a[f].chunks.size(); ++c) {
      EXPECT_EQ(a[f].chunks[c].mode, b[f].chunks[c].mode);
      EXPECT_EQ(a[f].chunks[c].original_size, b[f].chunks[c].original_size);
      EXPECT_EQ(a[f].chunks[c].symbol_count, b[f].chunks[c].symbol_count);
      EXPECT_EQ(a[f].chunks[c].payload_size, b[f].chunks[c].payload_size);
    }
    EXPECT_EQ(a[f].payloads, b[f].payloads);
    EXPECT_EQ(a[f].original_crc, b[f].original_crc);
  }
}

// Builds raw streams byte by byte with correct checksums, to produce what the
// writer refuses to (wrong counts, oversized chunks, other versions).
struct RawStream {
  Bytes bytes;
  void u8(std::uint8_t v) { bytes.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void crc_from(std::size_t start) { u32(crc32(bytes.data() + start, bytes.size() - start)); }
  void header(std::uint8_t version = 1, std::uint8_t flags = 0) {
    const std::size_t start = bytes.size();
    for (std::uint8_t m : kMagic) u8(m);
    u8(version);
    u8(flags);
    for (int i = 0; i < 32; ++i) u8(static_cast<std::uint8_t>(i));
    crc_from(start);
  }
  void frame_table(const std::vector<ChunkEntry>& entries, std::uint32_t declared_count) {
    const std::size_t start = bytes.size();
    u8(0x01);
    u32(declared_count);
    for (const ChunkEntry& e : entries) {
      u8(static_cast<std::uint8_t>(e.mode));
      u32(e.original_size);
      u32(e.symbol_count);
      u32(e.payload_size);
    }
    crc_from(start);
  }
  void end(std::uint64_t original_size, std::uint64_t frame_count) {
    const std::size_t start = bytes.size();
    u8(0x00);
    u64(original_size);
    u64(frame_count);
    crc_from(start);
  }
};

// ------------------------------------------------------------------ golden

// Version 1's layout, byte for byte (checksums computed with Python's zlib).
// A change here breaks every .lmz file already written.
const Bytes kGoldenStream = {
    0x89, 0x4C, 0x4D, 0x5A, 0x01, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
    0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x21, 0x82, 0x06, 0x89, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x05, 0x00, 0x00,
    0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x16, 0x55, 0xC6, 0x3A, 0x68, 0x69, 0xAA,
    0xBB, 0x78, 0x56, 0x34, 0x12, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x56, 0x09, 0xBC, 0xF8,
};

Frame golden_frame() {
  Frame frame;
  frame.chunks = {{ChunkMode::Stored, 2, 0, 2}, {ChunkMode::Coded, 5, 3, 2}};
  frame.payloads = {{'h', 'i'}, {0xAA, 0xBB}};
  frame.original_crc = 0x12345678;
  return frame;
}

TEST(Container, WriterProducesGoldenBytes) {
  EXPECT_EQ(write_stream(header_with_id(0), {golden_frame()}), kGoldenStream);
}

TEST(Container, ReaderReadsGoldenBytes) {
  const auto streams = read_all(kGoldenStream);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].header.model_id, header_with_id(0).model_id);
  expect_same_frames(streams[0].frames, {golden_frame()});
  EXPECT_EQ(streams[0].trailer.original_size, 7u);
  EXPECT_EQ(streams[0].trailer.frame_count, 1u);
}

// ------------------------------------------------------------- round trips

TEST(Container, RoundTrip) {
  std::mt19937 rng(1);
  std::vector<Frame> frames = {random_frame(rng, 1), random_frame(rng, 7), stored_frame("x"), random_frame(rng, 40)};
  const Bytes bytes = write_stream(header_with_id(9), frames);
  const auto streams = read_all(bytes);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].header.model_id, header_with_id(9).model_id);
  expect_same_frames(streams[0].frames, frames);
  std::uint64_t total = 0;
  for (const Frame& f : frames) total += f.original_size();
  EXPECT_EQ(streams[0].trailer.original_size, total);
  EXPECT_EQ(streams[0].trailer.frame_count, frames.size());
}

TEST(Container, MaximalFrameRoundTrips) {
  // Four 16 MiB chunks make a 64 MiB frame: exactly at both limits.
  Frame frame;
  for (int i = 0; i < 4; ++i) {
    frame.chunks.push_back({ChunkMode::Stored, kMaxChunkBytes, 0, kMaxChunkBytes});
    frame.payloads.emplace_back(kMaxChunkBytes, static_cast<std::uint8_t>(i));
  }
  const auto streams = read_all(write_stream(header_with_id(0), {frame}));
  ASSERT_EQ(streams.size(), 1u);
  expect_same_frames(streams[0].frames, {frame});
}

TEST(Container, EmptyStreamHasZeroFrames) {
  const Bytes bytes = write_stream(header_with_id(3), {});
  EXPECT_EQ(bytes.size(), 42u + 21u);  // header and end block only
  const auto streams = read_all(bytes);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_TRUE(streams[0].frames.empty());
  EXPECT_EQ(streams[0].trailer.original_size, 0u);
  EXPECT_EQ(streams[0].trailer.frame_count, 0u);
}

TEST(Container, EmptyInputIsACleanEnd) {
  std::istringstream in("");
  ContainerReader reader(in);
  StreamHeader header;
  EXPECT_FALSE(reader.next_stream(header));
}

TEST(Container, ConcatenatedStreamsReadInOrder) {
  std::mt19937 rng(2);
  const std::vector<Frame> first = {random_frame(rng, 3)}, second = {stored_frame("abc"), random_frame(rng, 2)};
  Bytes bytes = write_stream(header_with_id(1), first);
  const Bytes empty = write_stream(header_with_id(2), {});
  const Bytes last = write_stream(header_with_id(3), second);
  bytes.insert(bytes.end(), empty.begin(), empty.end());
  bytes.insert(bytes.end(), last.begin(), last.end());
  const auto streams = read_all(bytes);
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_EQ(streams[0].header.model_id, header_with_id(1).model_id);
  EXPECT_EQ(streams[1].header.model_id, header_with_id(2).model_id);
  EXPECT_EQ(streams[2].header.model_id, header_with_id(3).model_id);
  expect_same_frames(streams[0].frames, first);
  EXPECT_TRUE(streams[1].frames.empty());
  expect_same_frames(streams[2].frames, second);
  EXPECT_EQ(streams[2].trailer.frame_count, 2u);
}

// ------------------------------------------------------------ truncation

TEST(Container, TruncationAtEveryLengthThrows) {
  std::mt19937 rng(3);
  const Bytes bytes = write_stream(header_with_id(0), {random_frame(rng, 3), stored_frame("tail")});
  for (std::size_t length = 1; length < bytes.size(); ++length) {
    const std::string error = read_error(Bytes(bytes.begin(), bytes.begin() + length));
    ASSERT_NE(error.find("truncated"), std::string::npos) << "length " << length << ": " << error;
    ASSERT_NE(error.find("byte offset"), std::string::npos) << error;
  }
}

TEST(Container, TruncatedSecondStreamThrows) {
  const Bytes one = write_stream(header_with_id(0), {stored_frame("a")});
  Bytes two = one;
  two.insert(two.end(), one.begin(), one.end());
  for (std::size_t length = one.size() + 1; length < two.size(); ++length)
    ASSERT_THROW(read_all(Bytes(two.begin(), two.begin() + length)), FormatError) << "length " << length;
  EXPECT_EQ(read_all(Bytes(two.begin(), two.begin() + one.size())).size(), 1u);  // a stream boundary is fine
}

// ------------------------------------------------------------ corruption

// Every byte outside the payloads and the frame's original CRC is covered by
// a checksum, a magic, or a version: any change to it must be rejected.
TEST(Container, CorruptedHeaderTablesAndEndAreDetected) {
  const Bytes& bytes = kGoldenStream;
  // Header 0..41, frame table 42..76, payloads ("hi", AA BB) 77..80, the
  // frame's original CRC 81..84, end block 85..105.
  auto protected_byte = [](std::size_t i) { return i < 77 || i >= 85; };
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (!protected_byte(i)) continue;
    for (std::uint8_t flip : {0x01, 0x10, 0x80, 0xFF}) {
      Bytes corrupted = bytes;
      corrupted[i] ^= flip;
      ASSERT_THROW(read_all(corrupted), FormatError) << "byte " << i << " ^ " << int{flip};
    }
  }
}

// Payload bytes and the original CRC are not the reader's to check: the
// engine compares the CRC with the decoded bytes. The reader hands them on.
TEST(Container, PayloadCorruptionIsLeftToTheEngine) {
  Bytes corrupted = kGoldenStream;
  corrupted[77] ^= 0x01;  // 'h' -> 'i'
  corrupted[81] ^= 0x01;  // original CRC
  const auto streams = read_all(corrupted);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].frames[0].payloads[0], (Bytes{'i', 'i'}));
  EXPECT_EQ(streams[0].frames[0].original_crc, 0x12345679u);
}

TEST(Container, ChecksumErrorsNameTheOffset) {
  Bytes bytes = write_stream(header_with_id(0), {stored_frame("one"), stored_frame("two")});
  // Second frame's table starts after the header (42) and the first frame (1+4+13+4 + 3 + 4 = 29).
  bytes[71 + 6] ^= 0x01;
  EXPECT_EQ(read_error(bytes), "frame chunk table checksum mismatch at byte offset 71");
  Bytes header_bad = kGoldenStream;
  header_bad[10] ^= 0x01;
  EXPECT_EQ(read_error(header_bad), "stream header checksum mismatch at byte offset 0");
}

// ------------------------------------------------------- foreign input

TEST(Container, RejectsForeignInput) {
  EXPECT_EQ(read_error(Bytes{'h', 'e', 'l', 'l', 'o'}), "not an lmzip stream (bad magic at byte offset 0)");
  EXPECT_EQ(read_error(Bytes{0x1F, 0x8B, 0x08, 0x00}), "not an lmzip stream (bad magic at byte offset 0)");  // gzip
  EXPECT_NE(read_error(Bytes{0x89}).find("truncated"), std::string::npos);
  EXPECT_NE(read_error(Bytes{0x89, 'L', 'M', 'Z'}).find("truncated"), std::string::npos);
}

TEST(Container, RejectsTrailingGarbage) {
  for (const Bytes& tail : {Bytes{0x00}, Bytes{'x', 'y', 'z'}, Bytes(100, 0), Bytes{0x89, 'L', 'M', 'X'}}) {
    Bytes bytes = kGoldenStream;
    bytes.insert(bytes.end(), tail.begin(), tail.end());
    EXPECT_EQ(read_error(bytes), "trailing garbage at byte offset 106 after the end of an lmzip stream");
  }
  Bytes partial_magic = kGoldenStream;
  partial_magic.insert(partial_magic.end(), {0x89, 'L'});
  EXPECT_NE(read_error(partial_magic).find("truncated"), std::string::npos);
}

TEST(Container, RejectsOtherVersionsAndFlags) {
  RawStream v2;
  v2.header(2);
  v2.end(0, 0);
  EXPECT_EQ(read_error(v2.bytes), "unsupported format version 2 at byte offset 4 (this lmzip reads version 1)");
  RawStream flagged;
  flagged.header(1, 0x04);
  flagged.end(0, 0);
  EXPECT_EQ(read_error(flagged.bytes), "unsupported header flags 0x04 at byte offset 5");
}

TEST(Container, RejectsUnknownBlockType) {
  RawStream raw;
  raw.header();
  raw.u8(0x03);
  EXPECT_EQ(read_error(raw.bytes), "unknown block type 0x03 at byte offset 42");
}

// ------------------------------------------------------------ model blocks

Frame frame_of_model(const std::string& bytes, const StreamHeader& model) {
  Frame frame = stored_frame(bytes);
  frame.model_id = model.model_id;
  return frame;
}

// The type bytes of the blocks after the stream's header, as a reader walks them.
std::vector<std::uint8_t> block_types(const Bytes& bytes) {
  std::vector<std::uint8_t> types;
  std::size_t at = 42;
  while (at < bytes.size()) {
    const std::uint8_t type = bytes[at];
    types.push_back(type);
    if (type == 0x00) break;
    if (type == 0x02) {
      at += 37;
      continue;
    }
    std::uint32_t count = 0, payloads = 0;
    for (int i = 3; i >= 0; --i) count = (count << 8) | bytes[at + 1 + i];
    for (std::uint32_t c = 0; c < count; ++c)
      for (int i = 3; i >= 0; --i) payloads += std::uint32_t{bytes[at + 5 + 13 * c + 9 + i]} << (8 * i);
    at += 5 + 13 * count + 4 + payloads + 4;
  }
  return types;
}

// Frames of two models: a model block where the model changes, none where
// it stays, and the reader gives each frame its model.
TEST(Container, ModelBlocksSetTheModelOfTheFramesAfterThem) {
  const StreamHeader text = header_with_id(0), binary = header_with_id(100);
  std::vector<Frame> frames = {frame_of_model("a", text), frame_of_model("b", binary), frame_of_model("c", binary),
                               stored_frame("d"), frame_of_model("e", text)};
  const Bytes bytes = write_stream(text, frames);
  EXPECT_EQ(block_types(bytes), (std::vector<std::uint8_t>{0x01, 0x02, 0x01, 0x01, 0x01, 0x02, 0x01, 0x00}));
  const auto streams = read_all(bytes);
  ASSERT_EQ(streams.size(), 1u);
  ASSERT_EQ(streams[0].frames.size(), 5u);
  const std::vector<ModelId> expected = {text.model_id, binary.model_id, binary.model_id, binary.model_id,
                                         text.model_id};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(streams[0].frames[i].model_id, expected[i]) << i;
  frames[3].model_id = binary.model_id;  // an all-zero id is the model in force
  expect_same_frames(streams[0].frames, frames);
  // A frame's offset is its frame block's, after its model block.
  EXPECT_EQ(bytes[streams[0].frames[1].offset], 0x01);
  // What the reader read, written again, is the same bytes.
  EXPECT_EQ(write_stream(streams[0].header, streams[0].frames), bytes);
}

// Frames of the header's model only: no model block, the bytes of a stream
// written without model ids.
TEST(Container, OneModelStreamsHoldNoModelBlock) {
  Frame golden = golden_frame();
  golden.model_id = header_with_id(0).model_id;
  EXPECT_EQ(write_stream(header_with_id(0), {golden, golden_frame()}),
            write_stream(header_with_id(0), {golden_frame(), golden_frame()}));
  EXPECT_EQ(write_stream(header_with_id(0), {golden}), kGoldenStream);
}

// A stream's header (its model: header_with_id(0)) and a frame of one stored
// byte, to which a test adds blocks.
struct ModelBlockStream : RawStream {
  ModelBlockStream() {
    header();
    stored("a");
  }
  void stored(const std::string& s) {
    frame_table({{ChunkMode::Stored, static_cast<std::uint32_t>(s.size()), 0, static_cast<std::uint32_t>(s.size())}},
                1);
    for (char c : s) u8(static_cast<std::uint8_t>(c));
    u32(crc32(s.data(), s.size()));
  }
  void model(const ModelId& id, bool good_crc = true) {
    const std::size_t start = bytes.size();
    u8(0x02);
    for (std::uint8_t b : id) u8(b);
    crc_from(start);
    if (!good_crc) bytes.back() ^= 1;
  }
};

// The reader's error for a stream of a frame, a model block naming id, and a frame.
std::string error_of_model_block(const ModelId& id, bool good_crc = true) {
  ModelBlockStream raw;
  raw.model(id, good_crc);
  raw.stored("b");
  raw.end(2, 2);
  return read_error(raw.bytes);
}

TEST(Container, ModelBlockWithinTheRulesIsRead) {
  ModelBlockStream raw;
  raw.model(header_with_id(7).model_id);
  raw.stored("b");
  raw.end(2, 2);
  const auto streams = read_all(raw.bytes);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].frames.at(0).model_id, header_with_id(0).model_id);
  EXPECT_EQ(streams[0].frames.at(1).model_id, header_with_id(7).model_id);
}

TEST(Container, RejectsInvalidModelBlocks) {
  const std::size_t at = 42 + 5 + 13 + 4 + 1 + 4;  // after the header and a frame of one byte
  EXPECT_EQ(error_of_model_block(header_with_id(7).model_id, false),
            "model block checksum mismatch at byte offset " + std::to_string(at));
  {
    ModelBlockStream raw;
    raw.model(header_with_id(7).model_id);
    raw.end(1, 1);
    EXPECT_EQ(read_error(raw.bytes), "model block at byte offset " + std::to_string(at) +
                                         " is followed by block type 0x00 at byte offset " + std::to_string(at + 37) +
                                         " (a model block must be followed by a frame)");
  }
  {
    ModelBlockStream raw;
    raw.model(header_with_id(7).model_id);
    raw.model(header_with_id(8).model_id);
    raw.stored("b");
    raw.end(2, 2);
    EXPECT_EQ(read_error(raw.bytes), "model block at byte offset " + std::to_string(at) +
                                         " is followed by block type 0x02 at byte offset " + std::to_string(at + 37) +
                                         " (a model block must be followed by a frame)");
  }
  EXPECT_EQ(error_of_model_block(header_with_id(0).model_id),  // the header's
            "model block at byte offset " + std::to_string(at) + " names the model already in force");
  {
    ModelBlockStream raw;
    raw.model(header_with_id(7).model_id);
    raw.stored("b");
    raw.model(header_with_id(7).model_id);  // the one the block before set
    raw.stored("c");
    raw.end(3, 3);
    EXPECT_EQ(read_error(raw.bytes), "model block at byte offset " + std::to_string(at + 37 + 27) +
                                         " names the model already in force");
  }
  EXPECT_EQ(error_of_model_block(ModelId{}),
            "model block at byte offset " + std::to_string(at) + " names no model (an all-zero id)");
  {
    ModelBlockStream raw;
    raw.model(header_with_id(7).model_id);
    raw.bytes.resize(raw.bytes.size() - 3);
    EXPECT_NE(read_error(raw.bytes).find("truncated input: model block"), std::string::npos) << read_error(raw.bytes);
  }
}

TEST(Container, RejectsEndBlockThatDisagreesWithTheFrames) {
  const Bytes frame = [] {
    Bytes stream = write_stream(header_with_id(0), {stored_frame("abcd")});
    return Bytes(stream.begin() + 42, stream.end() - 21);
  }();
  auto stream_with_end = [&](std::uint64_t size, std::uint64_t count) {
    RawStream raw;
    raw.header();
    raw.bytes.insert(raw.bytes.end(), frame.begin(), frame.end());
    raw.end(size, count);
    return raw.bytes;
  };
  EXPECT_EQ(read_all(stream_with_end(4, 1)).size(), 1u);
  EXPECT_EQ(read_error(stream_with_end(4, 2)),
            "end block at byte offset 72 declares 2 frames of 4 bytes, but the stream holds 1 frames of 4 bytes");
  EXPECT_NE(read_error(stream_with_end(5, 1)).find("declares 1 frames of 5 bytes"), std::string::npos);
  EXPECT_THROW(read_all(stream_with_end(0, 0)), FormatError);
}

TEST(Container, RejectsInvalidChunkEntries) {
  const std::vector<ChunkEntry> invalid = {
      {static_cast<ChunkMode>(std::size(kChunkRecipes)), 2, 1, 1},  // unknown mode
      {ChunkMode::Stored, 0, 0, 0},          // empty
      {ChunkMode::Stored, 5, 0, 4},          // stored but shorter
      {ChunkMode::Stored, 5, 1, 5},          // stored with symbols
      {ChunkMode::Coded, 5, 3, 6},           // coded larger than the original
      {ChunkMode::Coded, 5, 0, 2},           // coded without symbols
      {ChunkMode::Coded, 5, 6, 2},           // more symbols than bytes
      {ChunkMode::Lzma2, 5, 1, 2},           // LZMA2 with symbols
      {ChunkMode::Lzma2, 5, 0, 5},           // LZMA2 not smaller than the original
      {ChunkMode::Lzma2, 5, 0, 6},           // LZMA2 larger than the original
      {ChunkMode::Lzma2, 5, 0, 0},           // LZMA2 without payload
      {ChunkMode::Lzma2, kMaxChunkBytes + 1, 0, 2},  // LZMA2 over the chunk limit
      {ChunkMode::ContextMixing, 5, 1, 2},   // context mixing with symbols
      {ChunkMode::ContextMixing, 5, 0, 5},   // context mixing not smaller than the original
      {ChunkMode::ContextMixing, 5, 0, 0},   // context mixing without payload
      {ChunkMode::InflatedContextMixing, 5, 1, 2},  // inflated context mixing with symbols
      {ChunkMode::InflatedContextMixing, 5, 0, 5},  // inflated context mixing not smaller than the original
      {ChunkMode::InflatedContextMixing, 5, 0, 0},  // inflated context mixing without payload
      {ChunkMode::Image, 5, 1, 2},           // image with symbols
      {ChunkMode::Image, 5, 0, 5},           // image not smaller than the original
      {ChunkMode::Image, 5, 0, 0},           // image without payload
      {ChunkMode::Audio, 5, 1, 2},           // audio with symbols
      {ChunkMode::Audio, 5, 0, 7},           // audio larger than the original
      {ChunkMode::Audio, 5, 0, 0},           // audio without payload
      {ChunkMode::Audio, kMaxChunkBytes + 1, 0, 2},  // audio over the chunk limit
  };
  for (const ChunkEntry& entry : invalid) {
    RawStream raw;
    raw.header();
    raw.frame_table({entry}, 1);
    raw.bytes.resize(raw.bytes.size() + entry.payload_size + 4);
    raw.end(entry.original_size, 1);
    const std::string error = read_error(raw.bytes);
    EXPECT_NE(error.find("invalid chunk 0 in the frame at byte offset 42"), std::string::npos) << error;
  }
}

// Counted chunks of a frame share its counts, so they share one mode.
TEST(Container, RejectsAFrameMixingCountModes) {
  std::vector<ChunkMode> counted;  // every mode with counts, from the recipe table
  for (const ChunkRecipe& r : kChunkRecipes)
    if (r.counts != CountsKind::None) counted.push_back(r.mode);
  ASSERT_GE(counted.size(), 2u);
  for (ChunkMode a : counted)
    for (ChunkMode b : counted) {
      // Other modes may sit beside a counted one.
      const std::vector<ChunkEntry> entries = {
          {a, 4, 2, 2}, {ChunkMode::CodedFrameMatched, 4, 2, 2}, {b, 4, 2, 2}};
      RawStream raw;
      raw.header();
      raw.frame_table(entries, 3);
      raw.bytes.resize(raw.bytes.size() + 3 * 2 + 4);
      raw.end(12, 1);
      const std::string error = read_error(raw.bytes);
      if (a == b) {
        EXPECT_EQ(error.find("mixes"), std::string::npos) << error;
      } else {
        EXPECT_NE(error.find("frame at byte offset 42 mixes chunk modes that keep context counts"), std::string::npos)
            << error;
      }
    }
}

// A frame is coded by the model or by LZMA2; stored chunks go with either.
TEST(Container, Lzma2ChunksGoWithStoredChunksOnly) {
  auto error_of = [](const std::vector<ChunkEntry>& entries) {
    RawStream raw;
    raw.header();
    raw.frame_table(entries, static_cast<std::uint32_t>(entries.size()));
    std::uint64_t original = 0;
    for (const ChunkEntry& e : entries) {
      raw.bytes.resize(raw.bytes.size() + e.payload_size);
      original += e.original_size;
    }
    raw.bytes.resize(raw.bytes.size() + 4);
    raw.end(original, 1);
    return read_error(raw.bytes);
  };
  EXPECT_EQ(error_of({{ChunkMode::Lzma2, 5, 0, 4}, {ChunkMode::Stored, 3, 0, 3}, {ChunkMode::Lzma2, 9, 0, 1}}),
            "(no error)");
  EXPECT_EQ(error_of({{ChunkMode::ContextMixing, 5, 0, 4}, {ChunkMode::Lzma2, 9, 0, 1}}), "(no error)");
  EXPECT_EQ(error_of({{ChunkMode::InflatedContextMixing, 5, 0, 4}, {ChunkMode::ContextMixing, 5, 0, 4},
                      {ChunkMode::Lzma2, 9, 0, 1}}),
            "(no error)");
  for (const ChunkRecipe& r : kChunkRecipes) {
    if (r.coder != ChunkCoder::Network) continue;
    EXPECT_EQ(error_of({{ChunkMode::Lzma2, 5, 0, 4}, {r.mode, 4, 2, 2}}),
              "frame at byte offset 42 mixes LZMA2 or context-mixing chunks with network-coded chunks")
        << r.name;
    EXPECT_NE(error_of({{r.mode, 4, 2, 2}, {ChunkMode::Stored, 1, 0, 1}, {ChunkMode::Lzma2, 5, 0, 4}}).find("mixes LZMA2"),
              std::string::npos)
        << r.name;
    EXPECT_NE(error_of({{ChunkMode::ContextMixing, 5, 0, 4}, {r.mode, 4, 2, 2}}).find("mixes LZMA2 or context-mixing"),
              std::string::npos)
        << r.name;
    EXPECT_NE(error_of({{r.mode, 4, 2, 2}, {ChunkMode::InflatedContextMixing, 5, 0, 4}}).find("mixes LZMA2 or context-mixing"),
              std::string::npos)
        << r.name;
  }
}

// Image and audio chunks need no model: they go beside any other chunks.
TEST(Container, ImageAndAudioChunksGoWithEveryOtherMode) {
  for (const ChunkRecipe& r : kChunkRecipes) {
    const std::uint32_t symbols = r.coder == ChunkCoder::Network ? 2 : 0;
    const std::uint32_t payload = r.coder == ChunkCoder::Stored ? 4 : 2;
    const std::vector<ChunkEntry> entries = {
        {ChunkMode::Image, 6, 0, 3}, {r.mode, 4, symbols, payload}, {ChunkMode::Audio, 8, 0, 5}};
    RawStream raw;
    raw.header();
    raw.frame_table(entries, 3);
    raw.bytes.resize(raw.bytes.size() + 3 + payload + 5 + 4);
    raw.end(18, 1);
    EXPECT_EQ(read_error(raw.bytes), "(no error)") << r.name;
  }
}

// ------------------------------------------ limits, checked before allocating

TEST(Container, OversizedDeclarationsAreRejectedWithoutAllocating) {
  constexpr std::size_t kSmall = 2 << 20;  // the reader's 1 MiB read step, plus room for the test's own use

  {  // 2^32 - 1 chunks: the table would be 55 GB.
    RawStream raw;
    raw.header();
    raw.u8(0x01);
    raw.u32(0xFFFFFFFFu);
    AllocationTracker tracker;
    EXPECT_EQ(read_error(raw.bytes), "frame at byte offset 42 declares 4294967295 chunks (allowed: 1 to 4096)");
    EXPECT_LT(tracker.largest(), kSmall);
  }
  {  // One 2 GiB chunk, with a valid table checksum.
    RawStream raw;
    raw.header();
    raw.frame_table({{ChunkMode::Stored, 0x80000000u, 0, 0x80000000u}}, 1);
    AllocationTracker tracker;
    EXPECT_NE(read_error(raw.bytes).find("16 MiB limit"), std::string::npos);
    EXPECT_LT(tracker.largest(), kSmall);
  }
  {  // Five 16 MiB chunks: each within the limit, the frame (80 MiB) not.
    RawStream raw;
    raw.header();
    raw.frame_table(std::vector<ChunkEntry>(5, {ChunkMode::Stored, kMaxChunkBytes, 0, kMaxChunkBytes}), 5);
    AllocationTracker tracker;
    EXPECT_EQ(read_error(raw.bytes), "frame at byte offset 42 declares 83886080 bytes (limit 67108864)");
    EXPECT_LT(tracker.largest(), kSmall);
  }
  {  // A valid 64 MiB declaration followed by 1 KiB: memory follows the bytes present.
    RawStream raw;
    raw.header();
    raw.frame_table(std::vector<ChunkEntry>(4, {ChunkMode::Stored, kMaxChunkBytes, 0, kMaxChunkBytes}), 4);
    raw.bytes.resize(raw.bytes.size() + 1024);
    AllocationTracker tracker;
    EXPECT_NE(read_error(raw.bytes).find("truncated input: chunk payload"), std::string::npos);
    EXPECT_LT(tracker.largest(), kSmall);
  }
}

// ------------------------------------------------------------ the writer

TEST(ContainerWriter, RefusesFramesAReaderWouldReject) {
  auto rejects = [](const Frame& frame) {
    std::ostringstream out;
    ContainerWriter writer(out, StreamHeader{});
    const std::size_t header_size = out.str().size();
    EXPECT_THROW(writer.write_frame(frame), std::invalid_argument);
    EXPECT_EQ(out.str().size(), header_size);  // nothing of the frame was written
  };
  rejects(Frame{});  // no chunks
  Frame mismatch = stored_frame("abc");
  mismatch.payloads[0].pop_back();  // payload shorter than its entry
  rejects(mismatch);
  Frame missing_payload = stored_frame("abc");
  missing_payload.payloads.clear();
  rejects(missing_payload);
  Frame stored_short = stored_frame("abc");
  stored_short.chunks[0].payload_size = 2;
  stored_short.payloads[0].pop_back();
  rejects(stored_short);
  Frame coded_large;
  coded_large.chunks = {{ChunkMode::Coded, 2, 1, 3}};
  coded_large.payloads = {{1, 2, 3}};
  rejects(coded_large);
  Frame too_many_symbols;
  too_many_symbols.chunks = {{ChunkMode::Coded, 2, 3, 1}};
  too_many_symbols.payloads = {{1}};
  rejects(too_many_symbols);
  Frame no_symbols;
  no_symbols.chunks = {{ChunkMode::Coded, 2, 0, 1}};
  no_symbols.payloads = {{1}};
  rejects(no_symbols);
  Frame oversized_chunk;
  oversized_chunk.chunks = {{ChunkMode::Coded, kMaxChunkBytes + 1, 1, 0}};
  oversized_chunk.payloads = {{}};
  rejects(oversized_chunk);
  Frame oversized_frame;
  for (int i = 0; i < 5; ++i) {
    oversized_frame.chunks.push_back({ChunkMode::Coded, kMaxChunkBytes, 1, 0});
    oversized_frame.payloads.emplace_back();
  }
  rejects(oversized_frame);
  Frame too_many_chunks;
  for (std::uint32_t i = 0; i <= kMaxChunksPerFrame; ++i) {
    too_many_chunks.chunks.push_back({ChunkMode::Stored, 1, 0, 1});
    too_many_chunks.payloads.push_back({0});
  }
  rejects(too_many_chunks);
  Frame mixed_counts;
  mixed_counts.chunks = {{ChunkMode::CodedFrameCounted, 2, 1, 1}, {ChunkMode::CodedFrameCountedWide, 2, 1, 1}};
  mixed_counts.payloads = {{1}, {2}};
  rejects(mixed_counts);
  mixed_counts.chunks[0].mode = ChunkMode::CodedFrameCountedLarge;
  rejects(mixed_counts);
  // A frame of these entries, each with a payload of its declared size.
  auto rejects_entries = [&](const std::vector<ChunkEntry>& entries) {
    Frame frame;
    frame.chunks = entries;
    for (const ChunkEntry& e : entries) frame.payloads.emplace_back(e.payload_size, std::uint8_t{1});
    rejects(frame);
  };
  rejects_entries({{ChunkMode::Lzma2, 2, 0, 2}});                               // LZMA2 not smaller
  rejects_entries({{ChunkMode::Lzma2, 2, 1, 1}});                               // LZMA2 with symbols
  rejects_entries({{ChunkMode::Lzma2, 2, 0, 1}, {ChunkMode::Coded, 2, 1, 1}});  // LZMA2 beside the model
  rejects_entries({{ChunkMode::InflatedContextMixing, 2, 0, 1}, {ChunkMode::Coded, 2, 1, 1}});  // beside the model
  rejects_entries({{ChunkMode::InflatedContextMixing, 2, 0, 2}});                 // not smaller
}

TEST(ContainerWriter, ReportsFailedWrites) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  ContainerWriter writer(out, StreamHeader{});
  EXPECT_THROW(writer.finish(), std::runtime_error);
}

// The header waits for the first frame or finish(): a run that fails before
// (refused for memory) writes nothing.
TEST(ContainerWriter, WritesNothingBeforeTheFirstFrame) {
  std::ostringstream out;
  {
    ContainerWriter writer(out, StreamHeader{});
    EXPECT_EQ(writer.bytes_written(), 0u);
  }
  EXPECT_TRUE(out.str().empty());
  ContainerWriter writer(out, StreamHeader{});
  writer.write_frame(stored_frame("a"));
  EXPECT_EQ(out.str().substr(0, 4), "\x89LMZ");
  EXPECT_EQ(writer.bytes_written(), out.str().size());
}

TEST(ContainerWriter, NoFramesAfterFinish) {
  std::ostringstream out;
  ContainerWriter writer(out, StreamHeader{});
  writer.finish();
  EXPECT_THROW(writer.write_frame(stored_frame("a")), std::logic_error);
  const std::size_t size = out.str().size();
  writer.finish();  // a second finish writes nothing
  EXPECT_EQ(out.str().size(), size);
}

}  // namespace
}  // namespace lmzip

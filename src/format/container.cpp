// The .lmz container: docs/format.md is the specification this follows.
#include "format/container.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "hash/crc32.h"

namespace lmzip {
namespace {

constexpr std::uint8_t kFrameBlock = 0x01;
constexpr std::uint8_t kEndBlock = 0x00;
constexpr std::uint8_t kModelBlock = 0x02;
constexpr std::size_t kModelBlockBytes = 1 + 32 + 4;      // type, model id, crc
constexpr std::size_t kHeaderBytes = 4 + 1 + 1 + 32 + 4;  // magic, version, flags, model id, crc
constexpr std::size_t kChunkEntryBytes = 1 + 4 + 4 + 4;   // mode, original, symbols, payload
constexpr std::size_t kEndBytes = 1 + 8 + 8 + 4;          // type, original size, frame count, crc
// Payloads are read in steps of this size, so a truncated input that
// declares large chunks costs memory in proportion to what it really holds.
constexpr std::size_t kReadStep = 1 << 20;

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string hex_byte(unsigned value) {
  static const char kDigits[] = "0123456789ABCDEF";
  return std::string("0x") + kDigits[(value >> 4) & 0xF] + kDigits[value & 0xF];
}

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw FormatError(message.str());
}

// Why a chunk entry is invalid, or nullptr if it is valid. Shared by the
// writer (refuses to write it) and the reader (refuses to accept it).
const char* chunk_entry_problem(const ChunkEntry& entry) {
  const ChunkRecipe* recipe = find_recipe(static_cast<std::uint8_t>(entry.mode));
  if (recipe == nullptr) return "unknown chunk mode";
  if (entry.original_size == 0) return "empty chunk";
  if (entry.original_size > kMaxChunkBytes) return "chunk larger than the 16 MiB limit";
  switch (recipe->coder) {
    case ChunkCoder::Stored:
      if (entry.payload_size != entry.original_size) return "stored chunk whose payload size is not its original size";
      if (entry.symbol_count != 0) return "stored chunk with a symbol count";
      break;
    case ChunkCoder::Network:
      if (entry.payload_size > entry.original_size) return "coded chunk larger than its original (should be stored)";
      if (entry.symbol_count == 0) return "coded chunk without symbols";
      if (entry.symbol_count > entry.original_size) return "coded chunk with more symbols than original bytes";
      break;
    case ChunkCoder::Lzma2:
      if (entry.symbol_count != 0) return "LZMA2 chunk with a symbol count";
      if (entry.payload_size == 0) return "LZMA2 chunk without payload";
      if (entry.payload_size >= entry.original_size) return "LZMA2 chunk not smaller than its original (should be stored)";
      break;
    case ChunkCoder::ContextMixing:
    case ChunkCoder::InflatedContextMixing:
    case ChunkCoder::NetworkContextMixing:
      if (entry.symbol_count != 0) return "context-mixing chunk with a symbol count";
      if (entry.payload_size == 0) return "context-mixing chunk without payload";
      if (entry.payload_size >= entry.original_size)
        return "context-mixing chunk not smaller than its original (should be stored)";
      break;
    case ChunkCoder::Image:
    case ChunkCoder::Audio:
      if (entry.symbol_count != 0) return "image or audio chunk with a symbol count";
      if (entry.payload_size == 0) return "image or audio chunk without payload";
      if (entry.payload_size >= entry.original_size) return "image or audio chunk not smaller than its original (should be stored)";
      break;
  }
  return nullptr;
}

// Why a frame's chunks cannot go together, or nullptr (the chunks' entries
// are valid): counted chunks share one table of counts, so one mode; a frame
// is coded by the model or by LZMA2 and context mixing, never both (stored,
// image and audio chunks go with either).
const char* frame_modes_problem(const std::vector<ChunkEntry>& chunks) {
  const ChunkEntry* counted = nullptr;  // the frame's first counted chunk
  bool network = false, lzma2 = false;
  for (const ChunkEntry& e : chunks) {
    network = network || is_network_coded(e.mode);
    lzma2 = lzma2 || is_byte_coded(e.mode);
    if (!is_counted(e.mode)) continue;
    if (counted != nullptr && counted->mode != e.mode) return "mixes chunk modes that keep context counts";
    counted = &e;
  }
  if (network && lzma2) return "mixes LZMA2 or context-mixing chunks with network-coded chunks";
  return nullptr;
}

}  // namespace

std::uint64_t Frame::original_size() const {
  std::uint64_t total = 0;
  for (const ChunkEntry& chunk : chunks) total += chunk.original_size;
  return total;
}

std::uint64_t Frame::payload_offset(std::size_t i) const {
  std::uint64_t at = offset + 1 + 4 + kChunkEntryBytes * chunks.size() + 4;
  for (std::size_t k = 0; k < i; ++k) at += chunks[k].payload_size;
  return at;
}

// ---------------------------------------------------------------- writer

ContainerWriter::ContainerWriter(std::ostream& out, const StreamHeader& header) : out_(out) {
  std::uint8_t bytes[kHeaderBytes];
  std::memcpy(bytes, kMagic.data(), 4);
  bytes[4] = kFormatVersion;
  bytes[5] = 0;  // flags: none defined in version 1
  std::memcpy(bytes + 6, header.model_id.data(), 32);
  put_u32(bytes + 38, crc32(bytes, 38));
  header_.assign(bytes, bytes + sizeof bytes);
  model_in_force_ = header.model_id;
}

void ContainerWriter::write_frame(const Frame& frame) {
  if (finished_) throw std::logic_error("ContainerWriter::write_frame after finish");
  const std::size_t count = frame.chunks.size();
  if (count == 0) throw std::invalid_argument("lmzip container: a frame needs at least one chunk");
  if (count > kMaxChunksPerFrame) throw std::invalid_argument("lmzip container: more than 4096 chunks in a frame");
  if (frame.payloads.size() != count)
    throw std::invalid_argument("lmzip container: a frame needs one payload per chunk");
  for (std::size_t i = 0; i < count; ++i) {
    const ChunkEntry& entry = frame.chunks[i];
    if (const char* problem = chunk_entry_problem(entry))
      throw std::invalid_argument(std::string("lmzip container: chunk ") + std::to_string(i) + ": " + problem);
    if (frame.payloads[i].size() != entry.payload_size)
      throw std::invalid_argument("lmzip container: chunk " + std::to_string(i) +
                                  ": payload size differs from its entry");
  }
  if (frame.original_size() > kMaxFrameBytes)
    throw std::invalid_argument("lmzip container: frame larger than the 64 MiB limit");
  if (const char* problem = frame_modes_problem(frame.chunks))
    throw std::invalid_argument(std::string("lmzip container: frame ") + problem);

  static constexpr ModelId kInForce{};
  if (frame.model_id != kInForce && frame.model_id != model_in_force_) {
    std::uint8_t block[kModelBlockBytes];
    block[0] = kModelBlock;
    std::memcpy(block + 1, frame.model_id.data(), 32);
    put_u32(block + 33, crc32(block, 33));
    put(block, sizeof block);
    model_in_force_ = frame.model_id;
  }

  // Frame table: type, count, entries, then the CRC of those bytes.
  std::vector<std::uint8_t> table(1 + 4 + kChunkEntryBytes * count + 4);
  table[0] = kFrameBlock;
  put_u32(&table[1], static_cast<std::uint32_t>(count));
  std::uint8_t* entry_bytes = &table[5];
  for (const ChunkEntry& entry : frame.chunks) {
    entry_bytes[0] = static_cast<std::uint8_t>(entry.mode);
    put_u32(entry_bytes + 1, entry.original_size);
    put_u32(entry_bytes + 5, entry.symbol_count);
    put_u32(entry_bytes + 9, entry.payload_size);
    entry_bytes += kChunkEntryBytes;
  }
  put_u32(entry_bytes, crc32(table.data(), table.size() - 4));
  put(table.data(), table.size());
  for (const auto& payload : frame.payloads) put(payload.data(), payload.size());
  std::uint8_t crc[4];
  put_u32(crc, frame.original_crc);
  put(crc, 4);
  original_size_ += frame.original_size();
  ++frame_count_;
}

void ContainerWriter::finish() {
  if (finished_) return;
  std::uint8_t bytes[kEndBytes];
  bytes[0] = kEndBlock;
  put_u64(bytes + 1, original_size_);
  put_u64(bytes + 9, frame_count_);
  put_u32(bytes + 17, crc32(bytes, 17));
  put(bytes, sizeof bytes);
  finished_ = true;
}

void ContainerWriter::put(const void* data, std::size_t size) {
  if (!header_.empty()) {
    std::vector<std::uint8_t> header;
    header.swap(header_);
    put(header.data(), header.size());
  }
  if (size == 0) return;
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out_) throw std::runtime_error("lmzip container: write failed");
  bytes_written_ += size;
}

// ---------------------------------------------------------------- reader

ContainerReader::ContainerReader(std::istream& in) : in_(in) {}

void ContainerReader::get(void* data, std::size_t size, const char* what) {
  if (size == 0) return;
  in_.read(static_cast<char*>(data), static_cast<std::streamsize>(size));
  const auto got = static_cast<std::size_t>(in_.gcount());
  if (got != size) {
    if (in_.bad()) fail("read error in ", what, " at byte offset ", offset_);
    fail("truncated input: ", what, " at byte offset ", offset_, " needs ", size, " bytes, the input ends after ",
         got);
  }
  offset_ += size;
}

bool ContainerReader::next_stream(StreamHeader& header) {
  if (in_stream_) throw std::logic_error("ContainerReader::next_stream before the end of the current stream");
  const std::uint64_t start = offset_;
  if (in_.peek() == std::istream::traits_type::eof()) {
    if (in_.bad()) fail("read error at byte offset ", start);
    return false;  // clean end: no byte left
  }

  std::uint8_t bytes[kHeaderBytes];
  in_.read(reinterpret_cast<char*>(bytes), 4);
  const auto got = static_cast<std::size_t>(in_.gcount());
  if (std::memcmp(bytes, kMagic.data(), got) != 0) {
    if (start == 0) fail("not an lmzip stream (bad magic at byte offset 0)");
    fail("trailing garbage at byte offset ", start, " after the end of an lmzip stream");
  }
  if (got < 4) fail("truncated input: stream header at byte offset ", start, " (input ends inside the magic)");
  offset_ += 4;

  get(bytes + 4, 1, "stream header");
  // Checked before the CRC: a later version may lay out the rest differently.
  if (bytes[4] != kFormatVersion)
    fail("unsupported format version ", unsigned{bytes[4]}, " at byte offset ", start + 4, " (this lmzip reads version ",
         unsigned{kFormatVersion}, ")");
  get(bytes + 5, kHeaderBytes - 5, "stream header");
  if (crc32(bytes, 38) != get_u32(bytes + 38)) fail("stream header checksum mismatch at byte offset ", start);
  if (bytes[5] != 0) fail("unsupported header flags ", hex_byte(bytes[5]), " at byte offset ", start + 5);

  std::memcpy(header.model_id.data(), bytes + 6, 32);
  model_in_force_ = header.model_id;
  in_stream_ = true;
  trailer_ = StreamTrailer{};
  original_size_ = 0;
  frame_count_ = 0;
  return true;
}

bool ContainerReader::next_frame(Frame& frame) {
  if (!in_stream_) throw std::logic_error("ContainerReader::next_frame outside a stream");
  const std::uint64_t start = offset_;
  std::uint8_t type = 0;
  get(&type, 1, "block type");

  // A model block sets the model of the frame after it. The writer writes
  // one only where the model changes, so that every stream has one encoding.
  if (type == kModelBlock) {
    std::uint8_t bytes[kModelBlockBytes];
    bytes[0] = type;
    get(bytes + 1, kModelBlockBytes - 1, "model block");
    if (crc32(bytes, 33) != get_u32(bytes + 33)) fail("model block checksum mismatch at byte offset ", start);
    ModelId id;
    std::memcpy(id.data(), bytes + 1, 32);
    if (id == ModelId{}) fail("model block at byte offset ", start, " names no model (an all-zero id)");
    if (id == model_in_force_) fail("model block at byte offset ", start, " names the model already in force");
    const std::uint64_t next = offset_;
    get(&type, 1, "block type");
    if (type != kFrameBlock)
      fail("model block at byte offset ", start, " is followed by block type ", hex_byte(type), " at byte offset ",
           next, " (a model block must be followed by a frame)");
    model_in_force_ = id;
    return read_frame(frame, next);
  }
  if (type == kEndBlock) {
    std::uint8_t bytes[kEndBytes];
    bytes[0] = type;
    get(bytes + 1, kEndBytes - 1, "end block");
    if (crc32(bytes, 17) != get_u32(bytes + 17)) fail("end block checksum mismatch at byte offset ", start);
    trailer_.original_size = get_u64(bytes + 1);
    trailer_.frame_count = get_u64(bytes + 9);
    if (trailer_.frame_count != frame_count_ || trailer_.original_size != original_size_)
      fail("end block at byte offset ", start, " declares ", trailer_.frame_count, " frames of ",
           trailer_.original_size, " bytes, but the stream holds ", frame_count_, " frames of ", original_size_,
           " bytes");
    in_stream_ = false;
    return false;
  }
  if (type != kFrameBlock) fail("unknown block type ", hex_byte(type), " at byte offset ", start);
  return read_frame(frame, start);
}

// The frame block whose type byte, at `start`, has been read.
bool ContainerReader::read_frame(Frame& frame, std::uint64_t start) {
  const std::uint8_t type = kFrameBlock;
  // Frame table. The count is checked before the table is allocated.
  std::uint8_t count_bytes[4];
  get(count_bytes, 4, "frame chunk count");
  const std::uint32_t count = get_u32(count_bytes);
  if (count == 0 || count > kMaxChunksPerFrame)
    fail("frame at byte offset ", start, " declares ", count, " chunks (allowed: 1 to ", kMaxChunksPerFrame, ")");
  std::vector<std::uint8_t> table(1 + 4 + kChunkEntryBytes * count + 4);
  table[0] = type;
  std::memcpy(&table[1], count_bytes, 4);
  get(&table[5], table.size() - 5, "frame chunk table");
  if (crc32(table.data(), table.size() - 4) != get_u32(&table[table.size() - 4]))
    fail("frame chunk table checksum mismatch at byte offset ", start);

  std::vector<ChunkEntry> chunks(count);
  std::uint64_t frame_bytes = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* entry_bytes = &table[5 + kChunkEntryBytes * i];
    ChunkEntry& entry = chunks[i];
    entry.mode = static_cast<ChunkMode>(entry_bytes[0]);
    entry.original_size = get_u32(entry_bytes + 1);
    entry.symbol_count = get_u32(entry_bytes + 5);
    entry.payload_size = get_u32(entry_bytes + 9);
    if (const char* problem = chunk_entry_problem(entry))
      fail("invalid chunk ", i, " in the frame at byte offset ", start, ": ", problem);
    frame_bytes += entry.original_size;
  }
  if (frame_bytes > kMaxFrameBytes)
    fail("frame at byte offset ", start, " declares ", frame_bytes, " bytes (limit ", kMaxFrameBytes, ")");
  if (const char* problem = frame_modes_problem(chunks)) fail("frame at byte offset ", start, " ", problem);

  // Payloads: every size is now known to be within the limits; read in steps
  // so that memory follows the bytes actually present.
  frame.chunks = std::move(chunks);
  frame.model_id = model_in_force_;
  frame.offset = start;
  frame.payloads.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto& payload = frame.payloads[i];
    const std::size_t size = frame.chunks[i].payload_size;
    payload.clear();
    for (std::size_t done = 0; done < size;) {
      const std::size_t step = std::min(size - done, kReadStep);
      payload.resize(done + step);
      get(payload.data() + done, step, "chunk payload");
      done += step;
    }
  }
  std::uint8_t crc[4];
  get(crc, 4, "frame checksum");
  frame.original_crc = get_u32(crc);
  original_size_ += frame_bytes;
  ++frame_count_;
  return true;
}

}  // namespace lmzip

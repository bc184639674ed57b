#include "engine/frame_choice.h"

#include <algorithm>

#include "coder/lzma2_coder.h"
#include "engine/for_each_group.h"

namespace lmzip {

namespace {
constexpr std::uint64_t kChunkEntryBytes = 13;  // docs/format.md "Frame block"
}  // namespace

Frame lzma2_frame(const std::uint8_t* data, std::size_t size, std::size_t threads) {
  const std::size_t pieces = std::max<std::size_t>(1, (size + kMaxChunkBytes - 1) / kMaxChunkBytes);
  Frame frame;
  frame.chunks.resize(pieces);
  frame.payloads.resize(pieces);
  auto code_piece = [&](std::size_t i) {
    const std::size_t first = size * i / pieces, last = size * (i + 1) / pieces;
    ChunkEntry& e = frame.chunks[i];
    std::vector<std::uint8_t>& payload = frame.payloads[i];
    e.original_size = static_cast<std::uint32_t>(last - first);
    payload = lzma2_encode(data + first, last - first);
    if (payload.empty()) {
      e.mode = ChunkMode::Stored;
      payload.assign(data + first, data + last);
    } else {
      e.mode = ChunkMode::Lzma2;
    }
    e.payload_size = static_cast<std::uint32_t>(payload.size());
  };
  for_each_group(pieces, threads, [&](std::size_t, std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) code_piece(i);
  });
  return frame;
}

std::uint64_t frame_cost(const Frame& frame) {
  std::uint64_t bytes = kChunkEntryBytes * frame.chunks.size();
  for (const ChunkEntry& e : frame.chunks) bytes += e.payload_size;
  return bytes;
}

bool looks_like_text(const std::uint8_t* data, std::size_t size) {
  std::size_t control = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const std::uint8_t b = data[i];
    control += (b < 0x09 || (b > 0x0D && b < 0x20 && b != 0x1B) || b == 0x7F);
  }
  return control * 1000 <= size;
}

}  // namespace lmzip

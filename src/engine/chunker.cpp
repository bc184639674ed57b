#include "engine/chunker.h"

#include <algorithm>

namespace lmzip {

std::vector<ChunkSpan> plan_chunks(std::size_t frame_size, std::size_t chunk_bytes, std::size_t min_chunk_bytes,
                                   std::uint32_t streams) {
  std::vector<ChunkSpan> spans;
  if (frame_size == 0) return spans;
  chunk_bytes = std::max<std::size_t>(chunk_bytes, 1);
  // Enough chunks to respect chunk_bytes; more (up to streams) while they stay >= min_chunk_bytes.
  std::size_t count = (frame_size + chunk_bytes - 1) / chunk_bytes;
  const std::size_t by_min = std::max<std::size_t>(1, frame_size / std::max<std::size_t>(min_chunk_bytes, 1));
  count = std::max(count, std::min<std::size_t>(streams, by_min));
  const std::size_t base = frame_size / count, extra = frame_size % count;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t size = base + (i < extra ? 1 : 0);
    spans.push_back({offset, size});
    offset += size;
  }
  return spans;
}

bool worth_modelling(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return true;
  std::uint64_t counts[256] = {};
  for (std::size_t i = 0; i < size; ++i) ++counts[data[i]];
  std::uint64_t collisions = 0;  // ordered pairs of equal bytes
  for (std::uint64_t c : counts) collisions += c * (c - 1);
  const std::uint64_t pairs = std::uint64_t{size} * (size - 1);
  // collisions / pairs >= 1.05 / 256; sizes up to 2^24 keep this below 2^64.
  return collisions * 256 * 100 >= pairs * 105;
}

}  // namespace lmzip

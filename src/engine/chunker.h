// How a frame of input is cut into independent chunks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip {

// Chunks stepped together per frame; a frame holds up to this many chunks.
constexpr std::uint32_t kFrameStreams = 256;

struct ChunkSpan {
  std::size_t offset = 0;
  std::size_t size = 0;
};

// Splits frame_size bytes into near-equal chunks of at most chunk_bytes,
// using up to `streams` chunks of at least min_chunk_bytes when the frame is
// short, so small inputs still fill a batch. A pure function of its arguments:
// the plan never depends on threads or the device.
std::vector<ChunkSpan> plan_chunks(std::size_t frame_size, std::size_t chunk_bytes, std::size_t min_chunk_bytes,
                                   std::uint32_t streams);

// False for bytes that look uniformly random (compressed or encrypted data):
// their byte-pair collision rate is within 5% of 1/256. Such chunks are stored
// without running the model, which could not compress them and would take as
// long as for text. Integer arithmetic only, so every machine decides alike.
bool worth_modelling(const std::uint8_t* data, std::size_t size);

}  // namespace lmzip

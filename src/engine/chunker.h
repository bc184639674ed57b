// How a frame of input is cut into independent chunks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip {

// Small inputs are cut into chunks no smaller than this (unless the input is)
// at levels 1, 4 and 7; twice and four times it at 2, 5, 8 and 3, 6 (9: below). A
// chunk restarts the model's context and its match history, so longer chunks
// compress better, but fewer of them fill less of a batch, which is slower.
constexpr std::size_t kMinChunkBytes = 8192;
// Level 9 (-9, --best) codes a frame in few long chunks instead: at most
// kBestChunkBytes each and at least kBestMinChunkBytes: the slowest level can
// afford small batches. Fewer chunks a step means more,
// smaller steps of the output adaptation and more history per match model:
// world192.txt 374,750 -> 368,046 bytes, book1 176,757 -> 175,320.
constexpr std::size_t kBestChunkBytes = std::size_t{1} << 20;
constexpr std::size_t kBestMinChunkBytes = std::size_t{512} << 10;
std::size_t min_chunk_bytes_for_level(int level);
// The largest chunk at `level` when the user sets none: the model's, or
// kBestChunkBytes at level 9 where that is larger.
std::size_t chunk_bytes_for_level(int level, std::size_t model_chunk_bytes);
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

// Codes the chunks of a frame with one predictor: the range coder driven by
// the batch engine. Used by compress()/decompress() and the benchmarks.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "format/chunk_recipe.h"
#include "model/predictor.h"
#include "tokenize/tokenizer.h"

namespace lmzip {

// One chunk's symbols coded with the model and the per-frame models its
// `mode`'s recipe names. Frame matches and counts look at the chunks of the
// same `frame` (numbered within the call).
struct CodedChunk {
  std::vector<std::uint32_t> symbols;
  ChunkMode mode = ChunkMode::CodedFrameCounted;
  std::uint32_t frame = 0;
  std::vector<std::uint8_t> payload;
  double ideal_bits = 0;  // sum of -log2 p over the symbols
};

// Encodes chunks[first, last) in lock-step; fills payload and ideal_bits.
void encode_chunks(Predictor& predictor, std::vector<CodedChunk>& chunks, std::size_t first, std::size_t last);

struct DecodeTask {
  const std::uint8_t* payload;
  std::size_t payload_size;
  std::uint32_t symbol_count;
  std::uint32_t original_size;
  ChunkMode mode;         // as the chunk was coded
  std::uint32_t frame;    // as CodedChunk::frame
  std::string bytes;      // decoded output
};

// Thrown by decode_chunks() at the first chunk that cannot be what its entry
// declares: one bad chunk makes the whole input invalid, so no other chunk
// is stepped further.
class ChunkDecodeFailure : public std::runtime_error {
 public:
  ChunkDecodeFailure(std::size_t task, const char* why) : std::runtime_error(why), task(task) {}
  std::size_t task;  // index into the tasks given to decode_chunks()
};

// Decodes tasks[first, last) in lock-step; throws ChunkDecodeFailure as soon
// as a chunk's range decoder reads past its payload (and the few flush bytes
// the encoder leaves implicit), or its bytes outgrow its original size, or it
// ends at another size.
void decode_chunks(Predictor& predictor, const Tokenizer& tokenizer, std::vector<DecodeTask>& tasks,
                   std::size_t first, std::size_t last);

}  // namespace lmzip

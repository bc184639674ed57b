// Which coder takes a frame: the model, LZMA2 or the image and audio codecs
// (docs/format.md "LZMA2 chunks", "Image and audio chunks"). compress() codes
// a frame each way that may win and keeps the smallest, leaving out a way
// where a cheap test says it cannot win.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "coder/context_mixing.h"
#include "format/container.h"
#include "media/media_detect.h"
#include "model/model_file.h"
#include "model/predictor.h"

namespace lmzip {

// A frame whose LZMA2 or context-mixing coding takes fewer bits per byte than
// this (payloads and chunk entries) is not coded by the model. On the bench files the model
// lost every frame LZMA2 codes below 0.7 (at -1 and -5); it won at 0.79 at -5
// (a tar of source code, 8% smaller) (bench/results/lzma2-frames.md).
constexpr double kByteCoderSkipsModelBelowBitsPerByte = 0.7;

// A byte-level model's network as context mixing's extra inputs (chunk mode
// 14): one stream on the CPU, whose tables equal every backend's. The model
// must outlive it; its self-test runs first (std::runtime_error).
class NetworkBytePredictions final : public BytePredictions {
 public:
  explicit NetworkBytePredictions(const ModelFile& model);
  void reset() override;
  void step(std::uint32_t symbol, std::uint32_t* freqs) override;
  // Whether `model` predicts bytes (the byte tokenizer, 256 symbols).
  static bool predicts_bytes(const ModelFile& model);
  // The memory one takes.
  static std::uint64_t bytes(const ModelFile& model);

 private:
  std::unique_ptr<Predictor> predictor_;
};

// The frame data[0, size) (at most kMaxFrameBytes) as chunks of at most
// kMaxChunkBytes, cut evenly, coded by `mode`'s byte coder (LZMA2 or context
// mixing: is_byte_coded); a chunk it cannot shrink is stored. Up to `threads`
// chunks are coded at once, each taking byte_coder_bytes() of memory. The
// original CRC is left to the caller. Mode 13 (inflated context mixing)
// returns a frame without chunks where the deflate streams that zlib
// reproduces hold fewer than max(1, min_deflate_bytes) bytes of deflate data,
// inflates streams while a chunk grows to at most `most_inflation` times its
// size (0: to context mixing's limit), and context-mixes the chunks without
// one as they are. Mode 14 (network context mixing) mixes `network`'s
// predictions in (a byte model: NetworkBytePredictions::predicts_bytes).
Frame byte_coded_frame(const std::uint8_t* data, std::size_t size, std::size_t threads, ChunkMode mode,
                       std::size_t min_deflate_bytes = 0, unsigned most_inflation = 0,
                       const ModelFile* network = nullptr);

// A frame that LZMA2 barely shrinks (compressed or random data) is context-
// mixed with its deflate streams inflated only where their deflate data
// makes up at least 1/kInflateCompressedFrameShare of it: context mixing runs
// at a tenth of LZMA2's speed, and gains nothing on the rest of such a frame.
constexpr std::size_t kInflateCompressedFrameShare = 16;

// Memory that coding a chunk of `size` bytes in `mode` takes (either way).
std::uint64_t byte_coder_bytes(ChunkMode mode, std::size_t size);

// A frame whose image and audio regions hold at least this share of its bytes
// (in tenths) is coded by media_frame() or LZMA2, whichever is smaller: the
// codecs beat the model and context mixing on pixels and samples by far, and
// running those too would cost more time than the headers around the regions
// could ever save; LZMA2 is fast and wins where data repeats exactly.
constexpr std::size_t kMediaOnlyTenths = 9;

// The frame data[0, size) with each region (find_media) in an image or audio
// chunk and the bytes between them in LZMA2 chunks of at most kMaxChunkBytes
// (stored where LZMA2 does not shrink them); a region its codec does not
// shrink is stored. Up to `threads` chunks are coded at once. The original
// CRC is left to the caller.
Frame media_frame(const std::uint8_t* data, std::size_t size, const std::vector<MediaRegion>& regions,
                  std::size_t threads);

// What a frame's chunks take in the container beyond the frame's fixed bytes:
// their entries and payloads (the fixed bytes are the same whichever codes it).
std::uint64_t frame_cost(const Frame& frame);

// True for bytes that look like text (no more than 1 in 1,000 bytes are
// control bytes other than tab, line feed, vertical tab, form feed, carriage
// return and escape). The model codes text far better than LZMA2 does, so
// such a frame skips LZMA2. Integer arithmetic only.
bool looks_like_text(const std::uint8_t* data, std::size_t size);

}  // namespace lmzip

#include "engine/frame_choice.h"

#include <algorithm>

#include "coder/context_mixing.h"
#include "coder/deflate_streams.h"
#include "coder/lzma2_coder.h"
#include "engine/for_each_group.h"
#include "media/audio_codec.h"
#include "media/image_codec.h"
#include "model/network.h"

namespace lmzip {

namespace {
constexpr std::uint64_t kChunkEntryBytes = 13;  // docs/format.md "Frame block"
}  // namespace

NetworkBytePredictions::NetworkBytePredictions(const ModelFile& model) : predictor_(make_cpu_predictor(model, 1)) {}

void NetworkBytePredictions::reset() { predictor_->reset(0); }

void NetworkBytePredictions::step(std::uint32_t symbol, std::uint32_t* freqs) {
  const std::uint32_t slot = 0;
  predictor_->step(&slot, &symbol, 1, freqs);
}

bool NetworkBytePredictions::predicts_bytes(const ModelFile& model) {
  return model.tokenizer == TokenizerKind::Bytes && model.config.vocab_size == 256;
}

std::uint64_t NetworkBytePredictions::bytes(const ModelFile& model) { return cpu_predictor_bytes(model, 1); }

std::uint64_t byte_coder_bytes(ChunkMode mode, std::size_t size) {
  switch (mode) {
    case ChunkMode::Lzma2: return std::max(lzma2_encoder_bytes(size), lzma2_decoder_bytes(size));
    // The inflated bytes may reach the context-mixing limit whatever the size.
    case ChunkMode::InflatedContextMixing: return inflated_context_mixing_bytes(kContextMixingMaxBytes);
    default: return context_mixing_bytes(size);
  }
}

Frame byte_coded_frame(const std::uint8_t* data, std::size_t size, std::size_t threads, ChunkMode mode,
                       std::size_t min_deflate_bytes, unsigned most_inflation, const ModelFile* network) {
  const std::size_t pieces = std::max<std::size_t>(1, (size + kMaxChunkBytes - 1) / kMaxChunkBytes);
  Frame frame;
  frame.chunks.resize(pieces);
  frame.payloads.resize(pieces);
  // Mode 13: each piece's deflate streams, found first; a frame without any
  // is not coded this way, and a piece without any is context-mixed as it is.
  std::vector<InflatedBuffer> inflated(mode == ChunkMode::InflatedContextMixing ? pieces : 0);
  if (!inflated.empty()) {
    for_each_group(pieces, threads, [&](std::size_t, std::size_t first, std::size_t last) {
      for (std::size_t i = first; i < last; ++i) {
        const std::size_t piece = size * (i + 1) / pieces - size * i / pieces;
        inflated[i] = inflate_streams(data + size * i / pieces, piece,
                                      most_inflation == 0 ? kContextMixingMaxBytes
                                                          : std::min<std::size_t>(kContextMixingMaxBytes,
                                                                                  piece * most_inflation));
      }
    });
    std::size_t deflate_bytes = 0;
    for (const InflatedBuffer& b : inflated)
      for (const DeflateStream& s : b.streams) deflate_bytes += s.compressed_size;
    if (deflate_bytes == 0 || deflate_bytes < min_deflate_bytes) return Frame{};
  }
  auto code_piece = [&](std::size_t i) {
    const std::size_t first = size * i / pieces, last = size * (i + 1) / pieces;
    ChunkEntry& e = frame.chunks[i];
    std::vector<std::uint8_t>& payload = frame.payloads[i];
    e.original_size = static_cast<std::uint32_t>(last - first);
    e.mode = mode;
    if (mode == ChunkMode::Lzma2) {
      payload = lzma2_encode(data + first, last - first);
    } else if (mode == ChunkMode::InflatedContextMixing && !inflated[i].streams.empty()) {
      payload = inflated_context_mixing_encode(inflated[i]);
      inflated[i] = InflatedBuffer{};
    } else if (mode == ChunkMode::NetworkContextMixing && network != nullptr) {
      NetworkBytePredictions predictions(*network);
      payload = context_mixing_encode(data + first, last - first, &predictions);
    } else {
      e.mode = ChunkMode::ContextMixing;
      payload = context_mixing_encode(data + first, last - first);
    }
    if (payload.empty() || payload.size() >= last - first) {
      e.mode = ChunkMode::Stored;
      payload.assign(data + first, data + last);
    }
    e.payload_size = static_cast<std::uint32_t>(payload.size());
  };
  for_each_group(pieces, threads, [&](std::size_t, std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) code_piece(i);
  });
  return frame;
}

Frame media_frame(const std::uint8_t* data, std::size_t size, const std::vector<MediaRegion>& regions,
                  std::size_t threads) {
  // The pieces in order: regions, and the bytes between them cut into chunks.
  struct Piece {
    std::size_t offset, size;
    const MediaRegion* region;  // nullptr: bytes between regions
  };
  std::vector<Piece> pieces;
  auto add_bytes = [&](std::size_t from, std::size_t to) {
    const std::size_t count = (to - from + kMaxChunkBytes - 1) / kMaxChunkBytes;
    for (std::size_t i = 0; i < count; ++i)
      pieces.push_back({from + (to - from) * i / count, (to - from) * (i + 1) / count - (to - from) * i / count, nullptr});
  };
  std::size_t at = 0;
  for (const MediaRegion& r : regions) {
    add_bytes(at, r.offset);
    pieces.push_back({r.offset, r.size, &r});
    at = r.offset + r.size;
  }
  add_bytes(at, size);
  Frame frame;
  frame.chunks.resize(pieces.size());
  frame.payloads.resize(pieces.size());
  for_each_group(pieces.size(), threads, [&](std::size_t, std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) {
      const Piece& piece = pieces[i];
      const std::uint8_t* bytes = data + piece.offset;
      ChunkEntry& e = frame.chunks[i];
      std::vector<std::uint8_t>& payload = frame.payloads[i];
      e.original_size = static_cast<std::uint32_t>(piece.size);
      if (piece.region == nullptr) {
        payload = lzma2_encode(bytes, piece.size);
        e.mode = ChunkMode::Lzma2;
      } else if (piece.region->kind == MediaKind::Image) {
        payload = encode_image(piece.region->image, bytes);
        e.mode = ChunkMode::Image;
      } else {
        payload = encode_audio(piece.region->audio, bytes);
        e.mode = ChunkMode::Audio;
      }
      if (payload.empty() || payload.size() >= piece.size) {
        e.mode = ChunkMode::Stored;
        payload.assign(bytes, bytes + piece.size);
      }
      e.payload_size = static_cast<std::uint32_t>(payload.size());
    }
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

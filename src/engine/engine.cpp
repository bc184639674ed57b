// compress() and decompress(): frames of chunks through tokenizer, batch
// engine, predictor and range coder, into and out of the container.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "adapt/context_counts.h"
#include "adapt/frame_models.h"
#include "coder/context_mixing.h"
#include "coder/deflate_streams.h"
#include "coder/lzma2_coder.h"
#include "engine/chunk_coder.h"
#include "engine/chunker.h"
#include "engine/for_each_group.h"
#include "engine/frame_choice.h"
#include "engine/levels.h"
#include "format/container.h"
#include "hash/crc32.h"
#include "lmzip/lmzip.h"
#include "media/audio_codec.h"
#include "media/image_codec.h"
#include "media/media_detect.h"
#include "model/backend.h"
#include "model/model_file.h"
#include "model/model_library.h"
#include "tokenize/tokenizer.h"

namespace lmzip {

const char* version() { return LMZIP_VERSION; }  // CMake's project version

namespace {

// A loaded model with its tokenizer and its predictors, one per device.
struct ModelSession {
  ModelFile model;
  Sha256Digest id{};
  std::string path;
  std::unique_ptr<Tokenizer> tokenizer;
  std::uint64_t model_bytes = 0;       // the loaded model: its file's size
  std::unique_ptr<Predictor> made[2];  // per Device
  std::size_t made_groups[2] = {};
  std::uint64_t made_bytes[2] = {};

  static std::unique_ptr<ModelSession> open(const std::string& path) {
    auto s = std::make_unique<ModelSession>();
    s->path = path;
    try {
      s->model = ModelFile::load(path, &s->id);
      s->model_bytes = std::filesystem::file_size(path);
      if (s->model.tokenizer == TokenizerKind::Bytes)
        s->tokenizer = Tokenizer::bytes();
      else
        s->tokenizer = Tokenizer::from_pieces(s->model.pieces, s->model.piece_scores);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(Error::Kind::ModelInvalid, "model " + path + ": " + e.what());
    }
    return s;
  }

  // The predictor for a run of `coded` chunks with these needs, in up to
  // `streams` rows, on device_for(needs) (in *device). Its steps are shared
  // by at most `threads` groups, never more than the run has chunks, and
  // fewer where the run would need more than `limit` bytes with
  // `run_bytes` (the run's frame models and data) beside it; Error(MemoryLimit)
  // if one group does not fit either. Made on first use of its device (the
  // self-test runs then), and again when a run needs more than it has.
  Predictor& predictor(PredictorFactory& backends, const PredictorNeeds& needs, std::size_t threads,
                       std::size_t coded, std::size_t streams, std::uint64_t run_bytes, std::uint64_t limit,
                       const char* doing, Device* device) {
    *device = backends.device_for(needs);
    const auto d = static_cast<int>(*device);
    auto need = [&](std::size_t groups) {
      return model_bytes + run_bytes + PredictorFactory::bytes(model, *device, groups, streams);
    };
    std::size_t groups = std::clamp<std::size_t>(coded, 1, std::max<std::size_t>(threads, 1));
    while (groups > 1 && need(groups) > limit) --groups;
    if (need(groups) > limit) throw memory_limit_error(doing, need(groups), limit);
    auto& have = made[d];
    if (have && have->max_streams() >= streams && made_groups[d] >= groups &&
        model_bytes + run_bytes + made_bytes[d] <= limit)
      return *have;
    have.reset();  // before its successor is allocated
    try {
      have = backends.make(model, needs, groups, streams, device);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(Error::Kind::ModelInvalid, "model " + path + ": " + e.what());
    }
    made_groups[d] = groups;
    made_bytes[d] = PredictorFactory::bytes(model, *device, groups, streams);
    return *have;
  }

  static Error memory_limit_error(const char* doing, std::uint64_t need, std::uint64_t limit) {
    constexpr std::uint64_t kMiB = 1 << 20;
    return Error(Error::Kind::MemoryLimit, std::string(doing) + " needs " + std::to_string((need + kMiB - 1) / kMiB) +
                                               " MiB of memory, more than the limit of " +
                                               std::to_string(limit / kMiB) + " MiB (-M/--memlimit)");
  }
};

// Records that `device` ran `count` frames from frame `first` (joined to the
// run before when it continues it).
void note_device(Stats& stats, std::uint64_t first, std::uint64_t count, const std::string& device) {
  if (!stats.devices.empty()) {
    DeviceRun& last = stats.devices.back();
    if (last.device == device && last.first_frame + last.frames == first) {
      last.frames += count;
      return;
    }
  }
  stats.devices.push_back({first, count, device});
}

// How a run splits its work: on the CPU, worker groups share out the chunks of
// one frame; on a GPU, one batch steps the chunks of several frames at once
// (thousands of streams). Frames are the same either way, so is the output.
struct Batching {
  std::size_t groups;   // predictors sharing each step, each on a thread of its own
  std::size_t frames;   // frames coded together
  std::size_t workers;  // threads for tokenizing
  std::size_t streams() const { return kFrameStreams * frames; }
};

constexpr std::size_t kGpuFramesPerBatch = 16;
// A GPU batch holds the context counts of all its frames on the host: it
// takes frames until their tables reach this (a frame's are at most 481.5 MiB).
constexpr std::size_t kBatchCountsBytes = std::size_t{2} << 30;

Batching plan_batching(Device device, int threads) {
  const auto workers = static_cast<std::size_t>(std::max(1, threads));
  if (device == Device::Cpu) return {workers, 1, workers};
  return {1, kGpuFramesPerBatch, workers};
}

Error corrupt(const std::string& what) { return Error(Error::Kind::Corrupt, what); }

// The spans of a frame whose images and recordings `media` codes: each image
// or audio chunk a span (its index in media.chunks in (*media_index)[i]),
// and the bytes between them cut by plan_chunks (SIZE_MAX there). Empty when
// `media` holds no such chunk or the spans would be more than a frame holds.
std::vector<ChunkSpan> plan_around_media(const Frame& media, std::size_t chunk_bytes, std::size_t smallest_chunk_bytes,
                                         std::vector<std::size_t>* media_index) {
  std::vector<ChunkSpan> spans;
  media_index->clear();
  std::size_t at = 0, gap = 0;  // the frame offset of the chunk; where the bytes since the last image start
  auto close_gap = [&] {
    for (const ChunkSpan& s : plan_chunks(at - gap, chunk_bytes, smallest_chunk_bytes, kFrameStreams)) {
      spans.push_back({gap + s.offset, s.size});
      media_index->push_back(SIZE_MAX);
    }
  };
  bool any = false;
  for (std::size_t i = 0; i < media.chunks.size(); ++i) {
    const ChunkEntry& e = media.chunks[i];
    const ChunkCoder coder = recipe(e.mode).coder;
    if (coder == ChunkCoder::Image || coder == ChunkCoder::Audio) {
      close_gap();
      spans.push_back({at, e.original_size});
      media_index->push_back(i);
      gap = at + e.original_size;
      any = true;
    }
    at += e.original_size;
  }
  close_gap();
  if (!any || spans.size() > kFrameStreams) {
    media_index->clear();
    return {};
  }
  return spans;
}

// How many of the frame's chunks `coder` codes (any of the two given).
std::size_t chunks_coded_by(const Frame& frame, ChunkCoder coder, ChunkCoder or_coder) {
  return static_cast<std::size_t>(std::count_if(frame.chunks.begin(), frame.chunks.end(), [&](const ChunkEntry& e) {
    return recipe(e.mode).coder == coder || recipe(e.mode).coder == or_coder;
  }));
}
std::size_t chunks_coded_by(const Frame& frame, ChunkCoder coder) { return chunks_coded_by(frame, coder, coder); }
std::size_t media_chunks(const Frame& frame) { return chunks_coded_by(frame, ChunkCoder::Image, ChunkCoder::Audio); }
std::size_t mixed_chunks(const Frame& frame) {
  return chunks_coded_by(frame, ChunkCoder::ContextMixing, ChunkCoder::InflatedContextMixing) +
         chunks_coded_by(frame, ChunkCoder::NetworkContextMixing);
}

// Decodes a chunk that needs no model (LZMA2, context mixing of the bytes or
// of their inflated deflate streams, image, audio) into out[0, size); false
// with the reason in *why.
bool decode_without_model(ChunkCoder coder, const std::vector<std::uint8_t>& payload, std::uint8_t* out,
                          std::size_t size, std::string* why) {
  switch (coder) {
    case ChunkCoder::Lzma2: return lzma2_decode(payload.data(), payload.size(), out, size, why);
    case ChunkCoder::ContextMixing: return context_mixing_decode(payload.data(), payload.size(), out, size, why);
    case ChunkCoder::InflatedContextMixing:
      return inflated_context_mixing_decode(payload.data(), payload.size(), out, size, why);
    case ChunkCoder::Image: return decode_image(payload.data(), payload.size(), out, size, why);
    case ChunkCoder::Audio: return decode_audio(payload.data(), payload.size(), out, size, why);
    case ChunkCoder::Stored:
    case ChunkCoder::Network:
    case ChunkCoder::NetworkContextMixing: break;
  }
  *why = "not a chunk that decodes without the model";
  return false;
}

bool holds_network_coded(const Frame& frame) {
  return std::any_of(frame.chunks.begin(), frame.chunks.end(),
                     [](const ChunkEntry& e) { return is_network_coded(e.mode); });
}

// Chunk `chunk` of `frame` is not what its entry declares, for the reason `why`.
Error chunk_corrupt(const Frame& frame, std::size_t chunk, const std::string& why) {
  return corrupt("chunk " + std::to_string(chunk) + " of the frame at byte offset " + std::to_string(frame.offset) +
                 " (its data at byte offset " + std::to_string(frame.payload_offset(chunk)) +
                 ") does not decode: " + why);
}

std::size_t read_fully(std::istream& in, char* data, std::size_t size) {
  std::size_t got = 0;
  while (got < size && in) {
    in.read(data + got, static_cast<std::streamsize>(size - got));
    got += static_cast<std::size_t>(in.gcount());
  }
  if (in.bad()) throw Error(Error::Kind::Io, "read error");
  return got;
}

void write_out(std::ostream& out, const char* data, std::size_t size) {
  out.write(data, static_cast<std::streamsize>(size));
  if (!out) throw Error(Error::Kind::Io, "write error");
}

// A model compress() codes frames with, and how its chunks are coded.
struct FrameCoder {
  std::unique_ptr<ModelSession> session;
  ChunkMode mode;
  PredictorNeeds needs;
};

// Encodes the chunks, each of sizes[i] bytes. The decoder sees a chunk's
// history only if the chunk is coded; one that does not shrink is stored, so
// the other chunks of its frame, which saw it, are coded again without it
// (until none fails: each round stores one more chunk or ends).
void encode_frames(Predictor& predictor, std::vector<CodedChunk>& chunks, const std::vector<std::size_t>& sizes) {
  encode_chunks(predictor, chunks, 0, chunks.size());
  std::vector<bool> stored(chunks.size(), false);
  while (true) {
    std::vector<bool> redo_frame;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      if (stored[i] || !shares_frame(chunks[i].mode) || chunks[i].payload.size() < sizes[i]) continue;
      stored[i] = true;
      if (redo_frame.size() <= chunks[i].frame) redo_frame.resize(chunks[i].frame + 1, false);
      redo_frame[chunks[i].frame] = true;
    }
    std::vector<std::size_t> redo;
    for (std::size_t i = 0; i < chunks.size(); ++i)
      if (!stored[i] && chunks[i].frame < redo_frame.size() && redo_frame[chunks[i].frame] &&
          shares_frame(chunks[i].mode))
        redo.push_back(i);
    if (redo.empty()) return;
    std::vector<CodedChunk> again(redo.size());
    for (std::size_t j = 0; j < redo.size(); ++j) {
      again[j].symbols = std::move(chunks[redo[j]].symbols);
      again[j].mode = chunks[redo[j]].mode;
      again[j].frame = chunks[redo[j]].frame;
    }
    encode_chunks(predictor, again, 0, again.size());
    for (std::size_t j = 0; j < redo.size(); ++j) chunks[redo[j]] = std::move(again[j]);
  }
}

}  // namespace

// A function try block: ContainerWriter reports a failed write as
// std::runtime_error, which reaches the caller as Error(Io) like every other
// write failure (the CLI then names the errno: "write error: File too large").
Stats compress(std::istream& in, std::ostream& out, const CompressOptions& options) try {
  const LevelSettings& level = level_settings(options.level);
  PredictorFactory backends(options.device);
  const ModelInfo info = resolve_model(options);
  // coders[0] codes the frames that look like text, and the others where
  // the level's binary model is not installed; coders[1], where it is, those
  // (mixed into context mixing, or alone where context mixing cannot run).
  std::vector<FrameCoder> coders;
  coders.push_back({ModelSession::open(info.path), {}, {}});
  if (const std::string binary = binary_model_path(options); !binary.empty()) {
    auto session = ModelSession::open(binary);
    if (session->id != coders[0].session->id) coders.push_back({std::move(session), {}, {}});
  }
  for (FrameCoder& c : coders) {
    c.mode = level_mode(level, c.session->model.config.width);
    c.needs = needs_of({c.mode});
  }
  // The text model sets the chunks, whichever model codes them.
  const ModelFile& model = coders[0].session->model;
  const std::size_t chunk_bytes = std::min<std::size_t>(
      options.chunk_bytes ? options.chunk_bytes : largest_chunk_bytes(level, model.config.chunk_bytes),
      kMaxChunkBytes);
  const std::size_t frame_bytes = std::min<std::size_t>(chunk_bytes * kFrameStreams, kMaxFrameBytes);
  const std::uint64_t limit = options.memory_limit ? options.memory_limit : default_memory_limit();
  Device device = backends.device_for(coders[0].needs);
  const Batching batching = plan_batching(device, options.threads);

  Stats stats;
  stats.model_id = to_hex(coders[0].session->id);
  stats.model_name = model.name;
  StreamHeader header;
  header.model_id = coders[0].session->id;
  ContainerWriter writer(out, header);
  struct PendingFrame {
    std::vector<char> data;
    std::size_t size = 0;
    std::vector<ChunkSpan> spans;
    std::vector<std::size_t> coded_index;  // per span: its index in `chunks`, or SIZE_MAX (stored)
    std::vector<std::size_t> media_index;  // per span: its image or audio chunk in `media`, or SIZE_MAX
    Frame lzma2;                           // the frame coded by LZMA2; no chunks where it was not tried
    Frame mixed;                           // the frame coded by context mixing; likewise
    Frame media;                           // its images and audio coded by their codecs; no chunks where it has none
    bool media_only = false;               // so much of it is images and audio that only LZMA2 is tried beside
    bool text = false;                     // looks_like_text()
    std::size_t coder = 0;                 // its index in `coders`
  };
  // Full frames' counts and data bound the batch (symbols <= bytes; the
  // frame, its symbols and payloads, its LZMA2, context-mixing and media
  // codings).
  std::size_t frame_batch_bytes = 0;
  for (const FrameCoder& c : coders)
    frame_batch_bytes = std::max(frame_batch_bytes, ContextCounts::table_bytes(counts_shape(recipe(c.mode).counts),
                                                                               frame_bytes) + 5 * frame_bytes);
  std::vector<PendingFrame> pending(
      std::clamp<std::size_t>(std::min<std::uint64_t>(kBatchCountsBytes, limit / 2) / frame_batch_bytes, 1,
                              batching.frames));
  for (auto& f : pending) f.data.resize(frame_bytes);
  // The byte coders' encoders run one frame at a time, beside the frames read
  // and the predictor: they may take a quarter of the limit (none fits: that
  // coder is not tried).
  // (`beside`: what each thread takes besides, as a network's predictor.)
  auto byte_coder_threads = [&](ChunkMode mode, std::uint64_t beside = 0) {
    const std::uint64_t each = byte_coder_bytes(mode, std::min<std::size_t>(frame_bytes, kMaxChunkBytes)) + beside;
    return static_cast<std::size_t>(std::min<std::uint64_t>(batching.workers, limit / 4 / each));
  };
  const std::size_t lzma2_threads = byte_coder_threads(ChunkMode::Lzma2);
  // Where the level mixes its binary model in and that model predicts bytes,
  // its network joins context mixing (chunk mode 14).
  const ModelFile* mixing_network =
      level.mixes_binary_model && coders.size() > 1 &&
              NetworkBytePredictions::predicts_bytes(coders.back().session->model)
          ? &coders.back().session->model
          : nullptr;
  const ChunkMode mixing_mode = mixing_network ? ChunkMode::NetworkContextMixing : ChunkMode::ContextMixing;
  const std::size_t mixing_threads =
      byte_coder_threads(mixing_mode, mixing_network ? NetworkBytePredictions::bytes(*mixing_network) : 0);
  const std::size_t plain_mixing_threads = byte_coder_threads(ChunkMode::ContextMixing);
  const std::size_t inflated_threads = byte_coder_threads(ChunkMode::InflatedContextMixing);
  // A binary model the level does not mix in codes frames only where context
  // mixing cannot run: where it can, the frames are batched as without one.
  if (coders.size() > 1 && !mixing_network && mixing_threads > 0) coders.pop_back();
  bool at_end = false;
  MediaCarry media_carry;  // an image or recording that goes on into the next frame
  std::size_t carried = 0;  // frames read for the batch before, of another model: the first of this batch
  while (!at_end || carried > 0) {
    std::size_t read = carried;
    while (read < pending.size() && !at_end) {
      PendingFrame& f = pending[read];
      f.size = read_fully(in, f.data.data(), frame_bytes);
      at_end = f.size < frame_bytes;
      if (f.size == 0) break;
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(f.data.data());
      f.text = looks_like_text(bytes, f.size);
      f.coder = f.text ? 0 : coders.size() - 1;
      f.media = Frame{};
      const std::vector<MediaRegion> regions = find_media(bytes, f.size, &media_carry);
      std::size_t media_bytes = 0;
      for (const MediaRegion& r : regions) media_bytes += r.size;
      f.media_only = media_bytes * 10 >= f.size * kMediaOnlyTenths;
      if (!regions.empty()) f.media = media_frame(bytes, f.size, regions, batching.workers);
      // Where a codec could not shrink its region, the others are tried too.
      f.media_only = f.media_only && media_chunks(f.media) == regions.size();
      ++read;
    }
    if (read == 0) break;
    // A batch's frames share one model: it ends where the model changes, and
    // the frames after it open the next batch.
    std::size_t frames = 1;
    while (frames < read && pending[frames].coder == pending[0].coder) ++frames;
    carried = read - frames;
    FrameCoder& coder = coders[pending[0].coder];
    ModelSession* session = coder.session.get();
    const ChunkMode mode = coder.mode;

    // LZMA2 first, on frames that do not look like text; a frame it codes in
    // few enough bits is not given to the model. The chunks of the other
    // frames worth modelling are coded by the model, the rest stored.
    std::vector<CodedChunk> chunks;
    std::vector<const char*> chunk_data;
    std::vector<std::size_t> chunk_size;
    for (std::size_t fi = 0; fi < frames; ++fi) {
      PendingFrame& f = pending[fi];
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(f.data.data());
      f.lzma2 = Frame{};
      f.mixed = Frame{};
      // LZMA2 also checks the codecs (exact repeats, as in synthetic
      // signals, are its strength and not theirs), at a fraction of their time.
      if (!f.text && lzma2_threads > 0) f.lzma2 = byte_coded_frame(bytes, f.size, lzma2_threads, ChunkMode::Lzma2);
      // Data LZMA2 saves under 1% of is compressed already (or random):
      // context mixing, at a tenth of LZMA2's speed, would gain little more.
      const bool compressed_already =
          !f.lzma2.chunks.empty() && frame_cost(f.lzma2) * 100 >= std::uint64_t{f.size} * 99;
      // Deflate streams zlib reproduces (PDFs, zips, gzip members) look
      // compressed already: context mixing of their inflated bytes is tried
      // whatever LZMA2 saved where they are a fair share of the frame, in
      // place of context mixing of the bytes as they are (it codes the bytes
      // around the streams alike).
      if (!f.text && !f.media_only && inflated_threads > 0)
        f.mixed = byte_coded_frame(bytes, f.size, inflated_threads, ChunkMode::InflatedContextMixing,
                                   compressed_already ? f.size / kInflateCompressedFrameShare : 0,
                                   level.most_inflation);
      if (f.mixed.chunks.empty() && !f.text && !f.media_only && !compressed_already && mixing_threads > 0) {
        f.mixed = byte_coded_frame(bytes, f.size, mixing_threads, mixing_mode, 0, 0, mixing_network);
        // The network loses a little where it knows nothing like the data
        // (the bench's 1980s VAX floats and fax bitmap): context mixing
        // alone, in a fifth of the time, is kept where it is smaller.
        if (mixing_network && plain_mixing_threads > 0) {
          Frame plain = byte_coded_frame(bytes, f.size, plain_mixing_threads, ChunkMode::ContextMixing);
          if (frame_cost(plain) < frame_cost(f.mixed)) f.mixed = std::move(plain);
        }
      }
      bool byte_coder_wins_clearly = false;
      for (const Frame* byte_coded : {&f.lzma2, &f.mixed})
        byte_coder_wins_clearly = byte_coder_wins_clearly || (!byte_coded->chunks.empty() &&
                                                    8.0 * static_cast<double>(frame_cost(*byte_coded)) <
                                                        kByteCoderSkipsModelBelowBitsPerByte * static_cast<double>(f.size));
      // The model codes the bytes around the images and recordings, which
      // keep their codecs' chunks.
      f.spans = plan_around_media(f.media, chunk_bytes, level.smallest_chunk_bytes, &f.media_index);
      if (f.spans.empty()) {
        f.spans = plan_chunks(f.size, chunk_bytes, level.smallest_chunk_bytes, kFrameStreams);
        f.media_index.assign(f.spans.size(), SIZE_MAX);
      }
      f.coded_index.assign(f.spans.size(), SIZE_MAX);
      // The text model is not made for frames that do not look like text:
      // context mixing beat it on every such file of the bench corpora
      // (bench/results/context-mixing-frames.md), in a fraction of its time.
      // Nor is a binary model alone: it lost to context mixing on every
      // binary file of the bench (bench/results/binary-model-probe.md); it
      // codes such a frame only where context mixing could not run.
      const bool left_to_context_mixing = !f.text && !f.mixed.chunks.empty();
      if (byte_coder_wins_clearly || f.media_only || left_to_context_mixing) continue;
      for (std::size_t i = 0; i < f.spans.size(); ++i) {
        if (f.media_index[i] != SIZE_MAX) continue;
        const char* data = f.data.data() + f.spans[i].offset;
        if (!worth_modelling(reinterpret_cast<const std::uint8_t*>(data), f.spans[i].size)) continue;
        f.coded_index[i] = chunk_data.size();
        chunk_data.push_back(data);
        chunk_size.push_back(f.spans[i].size);
        chunks.emplace_back();
        chunks.back().frame = static_cast<std::uint32_t>(fi);
        chunks.back().mode = mode;
      }
    }
    for_each_group(chunks.size(), batching.workers, [&](std::size_t, std::size_t first, std::size_t last) {
      for (std::size_t c = first; c < last; ++c)
        session->tokenizer->encode(reinterpret_cast<const std::uint8_t*>(chunk_data[c]), chunk_size[c],
                                   chunks[c].symbols);
    });
    if (!chunks.empty()) {
      // The run's memory beside the predictor: its frame models, the frames
      // read, their LZMA2 codings, symbols and payloads.
      std::vector<FrameModels::Chunk> setup;
      std::uint64_t run_bytes = frames * frame_bytes;
      for (std::size_t fi = 0; fi < frames; ++fi)
        run_bytes += frame_cost(pending[fi].lzma2) + frame_cost(pending[fi].mixed) + frame_cost(pending[fi].media);
      for (std::size_t c = 0; c < chunks.size(); ++c) {
        setup.push_back({chunks[c].frame, static_cast<std::uint32_t>(chunks[c].symbols.size()), chunks[c].mode});
        run_bytes += chunks[c].symbols.size() * sizeof(std::uint32_t) + chunk_size[c];
      }
      const ModelConfig& config = session->model.config;
      run_bytes += FrameModels::memory_bytes(setup, config.vocab_size, config.width);
      encode_frames(session->predictor(backends, coder.needs, batching.groups, chunks.size(), batching.streams(), run_bytes,
                                       limit, "compressing", &device),
                    chunks, chunk_size);
    }
    if (!chunks.empty()) note_device(stats, stats.frames, frames, PredictorFactory::describe(device));

    for (std::size_t fi = 0; fi < frames; ++fi) {
      PendingFrame& f = pending[fi];
      Frame frame;
      double network_bits = 0;  // the model's ideal size of the frame's network-coded chunks
      for (std::size_t i = 0; i < f.spans.size(); ++i) {
        ChunkEntry e;
        e.original_size = static_cast<std::uint32_t>(f.spans[i].size);
        const auto* original = reinterpret_cast<const std::uint8_t*>(f.data.data()) + f.spans[i].offset;
        CodedChunk* coded = f.coded_index[i] == SIZE_MAX ? nullptr : &chunks[f.coded_index[i]];
        if (f.media_index[i] != SIZE_MAX) {
          e = f.media.chunks[f.media_index[i]];
          frame.payloads.push_back(f.media.payloads[f.media_index[i]]);
        } else if (coded != nullptr && coded->payload.size() < f.spans[i].size) {
          e.mode = coded->mode;
          e.symbol_count = static_cast<std::uint32_t>(coded->symbols.size());
          e.payload_size = static_cast<std::uint32_t>(coded->payload.size());
          frame.payloads.push_back(std::move(coded->payload));
          network_bits += coded->ideal_bits;
        } else {
          e.mode = ChunkMode::Stored;
          e.payload_size = e.original_size;
          frame.payloads.emplace_back(original, original + f.spans[i].size);
        }
        frame.chunks.push_back(e);
      }
      // The smallest coding of the frame; the model's on a tie, then LZMA2's,
      // then context mixing's.
      for (Frame* other : {&f.lzma2, &f.mixed, &f.media}) {
        if (other->chunks.empty() || frame_cost(*other) >= frame_cost(frame)) continue;
        frame = std::move(*other);
        network_bits = 0;
      }
      frame.original_crc = crc32(f.data.data(), f.size);
      // A frame the model took no part in keeps the model in force: no model block.
      if (holds_network_coded(frame)) frame.model_id = session->id;
      if (chunks_coded_by(frame, ChunkCoder::NetworkContextMixing) > 0) frame.model_id = coders.back().session->id;
      stats.lzma2_frames += chunks_coded_by(frame, ChunkCoder::Lzma2) > 0;
      stats.context_mixing_frames += mixed_chunks(frame) > 0;
      stats.media_frames += media_chunks(frame) > 0;
      stats.ideal_bits += network_bits;
      for (const ChunkEntry& e : frame.chunks) {
        stats.symbols += e.symbol_count;
        if (e.mode == ChunkMode::Stored) ++stats.stored_chunks;
        // Stored and LZMA2 chunks count at their size.
        if (!is_network_coded(e.mode)) stats.ideal_bits += 8.0 * e.payload_size;
      }
      writer.write_frame(frame);
      if (!out) throw Error(Error::Kind::Io, "write error");
      stats.original_bytes += f.size;
      stats.chunks += frame.chunks.size();
      ++stats.frames;
      if (options.progress) options.progress(stats.original_bytes, writer.bytes_written());
    }
    std::rotate(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(frames),
                pending.begin() + static_cast<std::ptrdiff_t>(read));
  }
  writer.finish();
  stats.notices = backends.take_notices();
  out.flush();
  if (!out) throw Error(Error::Kind::Io, "write error");
  stats.compressed_bytes = writer.bytes_written();
  return stats;
} catch (const Error&) {
  throw;
} catch (const std::runtime_error&) {
  if (!out) throw Error(Error::Kind::Io, "write error");
  throw;
}

Stats decompress(std::istream& in, std::ostream& out, const DecompressOptions& options) {
  Stats stats;
  std::map<Sha256Digest, std::unique_ptr<ModelSession>> sessions;
  PredictorFactory backends(options.device);
  const Batching batching = plan_batching(backends.device_for({}), options.threads);
  const std::uint64_t limit = options.memory_limit ? options.memory_limit : default_memory_limit();
  try {
    ContainerReader reader(in);
    StreamHeader header;
    bool any_stream = false;
    while (reader.next_stream(header)) {
      any_stream = true;
      stats.model_id = to_hex(header.model_id);
      std::vector<Frame> frames(batching.frames);
      // A stream's frames are all written at one level: the device for its
      // first frame's needs plans the stream's batches.
      Batching stream_batching = batching;
      std::vector<ChunkMode> modes;  // of the batch's coded chunks
      bool first_frame = true;
      bool stream_end = false;
      // frames[held] was read for the batch before but names another model:
      // it opens the next batch.
      std::optional<std::size_t> held;
      while (!stream_end) {
        // Read the batch's frames; their coded chunks are decoded together.
        std::size_t count = 0;
        std::uint64_t batch_bytes = 0;  // the batch's counts and data, declared
        std::vector<DecodeTask> tasks;
        std::vector<std::pair<std::size_t, std::size_t>> task_chunk;  // per task: frame of the batch, chunk
        modes.clear();
        // The model of the batch's coded chunks: a batch's frames share one.
        std::optional<Sha256Digest> batch_model;
        // A frame's sharing chunks must all start together: a frame of more
        // coded chunks than the batch's streams ends the batch, whose
        // predictor then gets a stream for each of them.
        while (count < stream_batching.frames && batch_bytes < std::min<std::uint64_t>(kBatchCountsBytes, limit / 2) &&
               tasks.size() < stream_batching.streams()) {
          if (held) {
            std::swap(frames[count], frames[*held]);
            held.reset();
          } else if (!reader.next_frame(frames[count])) {
            stream_end = true;
            break;
          }
          if (holds_network_coded(frames[count])) {
            if (batch_model && *batch_model != frames[count].model_id) {
              held = count;
              break;
            }
            batch_model = frames[count].model_id;
          }
          const Frame& frame = frames[count++];
          ContextCounts::Shape counted;  // the container allows one counted mode a frame
          std::uint64_t counted_symbols = 0;
          for (std::size_t i = 0; i < frame.chunks.size(); ++i) {
            const ChunkEntry& e = frame.chunks[i];
            if (!is_network_coded(e.mode)) continue;
            if (e.symbol_count > e.original_size) throw corrupt("chunk declares more symbols than bytes");
            tasks.push_back({frame.payloads[i].data(), frame.payloads[i].size(), e.symbol_count, e.original_size,
                             e.mode, static_cast<std::uint32_t>(count - 1), {}});
            task_chunk.emplace_back(count - 1, i);
            modes.push_back(e.mode);
            if (is_counted(e.mode)) {
              counted = counts_shape(recipe(e.mode).counts);
              counted_symbols += e.symbol_count;
            }
          }
          if (first_frame) stream_batching = plan_batching(backends.device_for(needs_of(modes)), options.threads);
          first_frame = false;
          if (counted.orders > 0) batch_bytes += ContextCounts::table_bytes(counted, counted_symbols);
          batch_bytes += 2 * frame.original_size();
        }
        if (!tasks.empty()) {
          auto& slot = sessions[*batch_model];
          if (!slot) slot = ModelSession::open(find_model_by_id(options.models, *batch_model));
          ModelSession* session = slot.get();
          // The stream's first model names it in the stats.
          if (*batch_model == header.model_id || stats.model_name.empty()) stats.model_name = session->model.name;
          // Checked against the limit before anything is allocated: what
          // the frames' entries declare.
          std::vector<FrameModels::Chunk> setup;
          std::uint64_t run_bytes = 0;
          for (const DecodeTask& t : tasks) setup.push_back({t.frame, t.symbol_count, t.mode});
          for (std::size_t fi = 0; fi < count; ++fi) run_bytes += 2 * frames[fi].original_size();
          const ModelConfig& config = session->model.config;
          run_bytes += FrameModels::memory_bytes(setup, config.vocab_size, config.width);
          Device device;
          Predictor& predictor =
              session->predictor(backends, needs_of(modes), stream_batching.groups, tasks.size(),
                                 std::max(stream_batching.streams(), tasks.size()), run_bytes, limit, "decoding", &device);
          try {
            decode_chunks(predictor, *session->tokenizer, tasks, 0, tasks.size());
          } catch (const ChunkDecodeFailure& failure) {
            // The model is the one the frame names (found by its SHA-256), so
            // the data is what is wrong.
            const auto [fi, ci] = task_chunk[failure.task];
            throw chunk_corrupt(frames[fi], ci, failure.what());
          }
          note_device(stats, stats.frames, count, PredictorFactory::describe(device));
        }

        std::size_t next_task = 0;
        for (std::size_t fi = 0; fi < count; ++fi) {
          const Frame& frame = frames[fi];
          std::string bytes;
          bytes.reserve(frame.original_size());
          for (std::size_t i = 0; i < frame.chunks.size(); ++i) {
            const ChunkEntry& e = frame.chunks[i];
            const std::vector<std::uint8_t>& payload = frame.payloads[i];
            switch (recipe(e.mode).coder) {
              case ChunkCoder::Stored:
                bytes.append(reinterpret_cast<const char*>(payload.data()), payload.size());
                ++stats.stored_chunks;
                break;
              case ChunkCoder::Network:
                bytes += tasks[next_task++].bytes;  // of the declared size (decode_chunks checked)
                stats.symbols += e.symbol_count;
                break;
              case ChunkCoder::Lzma2:
              case ChunkCoder::ContextMixing:
              case ChunkCoder::InflatedContextMixing:
              case ChunkCoder::NetworkContextMixing:
              case ChunkCoder::Image:
              case ChunkCoder::Audio: {
                // Context mixing's tables are sized by the chunk
                // (context_mixing_bytes): weighed against the limit beside
                // the frames' bytes. LZMA2's dictionary (at most 16 MiB) and
                // the codecs' few rows or filters fit the room the limit
                // leaves, one chunk at a time: not weighed.
                if (recipe(e.mode).coder == ChunkCoder::ContextMixing) {
                  const std::uint64_t need = context_mixing_bytes(e.original_size) + 2 * frame.original_size();
                  if (need > limit) throw ModelSession::memory_limit_error("decoding", need, limit);
                }
                // Inflated context mixing's by the inflated size its header declares.
                if (recipe(e.mode).coder == ChunkCoder::InflatedContextMixing) {
                  InflatedHeader header;
                  std::string why;
                  if (!read_inflated_header(payload.data(), payload.size(), e.original_size, &header, &why))
                    throw chunk_corrupt(frame, i, why);
                  const std::uint64_t need =
                      inflated_context_mixing_bytes(header.inflated_size) + 2 * frame.original_size();
                  if (need > limit) throw ModelSession::memory_limit_error("decoding", need, limit);
                }
                const std::size_t at = bytes.size();
                bytes.resize(at + e.original_size);
                std::string why;
                if (recipe(e.mode).coder == ChunkCoder::NetworkContextMixing) {
                  // The frame's model (its model block's) predicts the bytes beside context mixing.
                  auto& slot = sessions[frame.model_id];
                  if (!slot) slot = ModelSession::open(find_model_by_id(options.models, frame.model_id));
                  if (!NetworkBytePredictions::predicts_bytes(slot->model))
                    throw chunk_corrupt(frame, i, "a network-context-mix chunk names model " + to_hex(frame.model_id) +
                                                      ", which does not predict bytes");
                  const std::uint64_t need = context_mixing_bytes(e.original_size) +
                                             NetworkBytePredictions::bytes(slot->model) + 2 * frame.original_size();
                  if (need > limit) throw ModelSession::memory_limit_error("decoding", need, limit);
                  NetworkBytePredictions predictions(slot->model);
                  if (!context_mixing_decode(payload.data(), payload.size(), reinterpret_cast<std::uint8_t*>(&bytes[at]),
                                             e.original_size, &why, &predictions))
                    throw chunk_corrupt(frame, i, why);
                  break;
                }
                if (!decode_without_model(recipe(e.mode).coder, payload, reinterpret_cast<std::uint8_t*>(&bytes[at]),
                                          e.original_size, &why))
                  throw chunk_corrupt(frame, i, why);
                break;
              }
            }
          }
          stats.lzma2_frames += chunks_coded_by(frame, ChunkCoder::Lzma2) > 0;
          stats.context_mixing_frames += mixed_chunks(frame) > 0;
          stats.media_frames += media_chunks(frame) > 0;
          if (crc32(bytes.data(), bytes.size()) != frame.original_crc)
            throw corrupt("checksum mismatch in the frame at byte offset " + std::to_string(frame.offset) +
                          ": the data is corrupt");
          write_out(out, bytes.data(), bytes.size());
          stats.original_bytes += bytes.size();
          stats.chunks += frame.chunks.size();
          ++stats.frames;
          if (options.progress) options.progress(reader.offset(), stats.original_bytes);
        }
      }
    }
    if (!any_stream) throw corrupt("empty input: not an lmzip stream");
    stats.notices = backends.take_notices();
    stats.compressed_bytes = reader.offset();
  } catch (const FormatError& e) {
    throw corrupt(e.what());
  }
  out.flush();
  if (!out) throw Error(Error::Kind::Io, "write error");
  return stats;
}

// Level 9's full frame needs about 1.2 GiB (tests/engine's
// MemoryLimit.EveryShippedLevelFitsTheDefault); the same on every machine, so
// a file that decodes on one decodes on the next.
std::uint64_t default_memory_limit() { return std::uint64_t{1536} << 20; }

std::vector<StreamInfo> list(std::istream& in) {
  std::vector<StreamInfo> result;
  try {
    ContainerReader reader(in);
    StreamHeader header;
    while (true) {
      const std::uint64_t start = reader.offset();
      if (!reader.next_stream(header)) break;
      StreamInfo info;
      info.model_id = to_hex(header.model_id);
      info.offset = start;
      Frame frame;
      while (reader.next_frame(frame)) {
        FrameInfo f;
        f.offset = frame.offset;
        f.original_bytes = frame.original_size();
        f.compressed_bytes = reader.offset() - frame.offset;
        f.chunks = frame.chunks.size();
        f.model_id = to_hex(frame.model_id);
        std::uint64_t mode_chunks[std::size(kChunkRecipes)] = {};
        for (const ChunkEntry& e : frame.chunks) {
          ++mode_chunks[static_cast<std::size_t>(e.mode)];  // the reader accepts only the table's modes
          if (e.mode == ChunkMode::Stored) ++f.stored_chunks;
        }
        for (const ChunkRecipe& r : kChunkRecipes) {
          const std::uint64_t n = mode_chunks[static_cast<std::size_t>(r.mode)];
          if (n > 0) f.modes.push_back({std::string(r.name), n, levels_writing(r.mode)});
        }
        ++info.frames;
        info.chunks += f.chunks;
        info.stored_chunks += f.stored_chunks;
        info.frame_details.push_back(std::move(f));
      }
      info.original_bytes = reader.trailer().original_size;
      info.compressed_bytes = reader.offset() - start;
      result.push_back(info);
    }
  } catch (const FormatError& e) {
    throw corrupt(e.what());
  }
  // As decompress(): no stream at all is not a valid file.
  if (result.empty()) throw corrupt("empty input: not an lmzip stream");
  return result;
}

}  // namespace lmzip

// compress() and decompress(): frames of chunks through tokenizer, batch
// engine, predictor and range coder, into and out of the container.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "coder/range_coder.h"
#include "engine/chunk_coder.h"
#include "engine/chunker.h"
#include "engine/table_mixer.h"
#include "format/container.h"
#include "hash/crc32.h"
#include "lmzip/lmzip.h"
#include "model/cuda_predictor.h"
#include "model/model_file.h"
#include "model/model_library.h"
#include "model/network.h"
#include "model/output_adaptation.h"
#include "model/parallel_predictor.h"
#include "tokenize/tokenizer.h"

namespace lmzip {

const char* version() { return LMZIP_VERSION; }  // CMake's project version

namespace {

// Which backend computes the predictions; the tables are the same on each.
enum class Backend { Cpu, Cuda, CudaOrCpu };

Backend pick_backend(const std::string& device) {
  if (device == "cpu") return Backend::Cpu;
  if (device == "cuda") {
    if (!cuda_available()) throw Error(Error::Kind::Usage, "--device cuda: " + cuda_description());
    return Backend::Cuda;
  }
  if (device == "auto" || device.empty()) return cuda_available() ? Backend::CudaOrCpu : Backend::Cpu;
  throw Error(Error::Kind::Usage, "device must be auto, cpu or cuda, not '" + device + "'");
}

// A loaded model with its tokenizer and one predictor per worker group.
struct ModelSession {
  ModelFile model;
  Sha256Digest id{};
  std::string path;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Predictor> predictor_;
  std::unique_ptr<Predictor> cpu_predictor_;  // for output adaptation when predictor_ may be a GPU's
  Backend backend = Backend::Cpu;

  static std::unique_ptr<ModelSession> open(const std::string& path) {
    auto s = std::make_unique<ModelSession>();
    s->path = path;
    try {
      s->model = ModelFile::load(path, &s->id);
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

  // The predictor for up to `streams` chunks at once, split between `groups`
  // threads; created on first use (the self-test runs then). Output
  // adaptation (`adapting`) runs on the CPU only.
  Predictor& predictor(std::size_t groups, std::size_t streams, bool adapting = false) {
    const bool cpu_only = adapting && backend != Backend::Cpu;
    std::unique_ptr<Predictor>& made = cpu_only ? cpu_predictor_ : predictor_;
    if (made) return *made;
    const auto part_streams = static_cast<std::uint32_t>((streams + groups - 1) / groups);
    try {
      std::vector<std::unique_ptr<Predictor>> parts;
      for (std::size_t g = 0; g < groups; ++g) {
        std::unique_ptr<Predictor> part;
        if (backend != Backend::Cpu && !cpu_only) {
          try {
            part = make_cuda_predictor(model, part_streams);
          } catch (const std::exception&) {
            if (backend == Backend::Cuda) throw;
            backend = Backend::Cpu;  // auto: the CPU computes the same tables
          }
        }
        if (!part) part = make_cpu_predictor(model, part_streams);
        parts.push_back(std::move(part));
      }
      made = make_parallel_predictor(std::move(parts));
    } catch (const std::exception& e) {
      throw Error(Error::Kind::ModelInvalid, "model " + path + ": " + e.what());
    }
    return *made;
  }
};

// Splits chunk indices into `groups` contiguous runs and runs fn(group, first, last) on threads.
template <class Fn>
void for_each_group(std::size_t count, std::size_t groups, Fn fn) {
  groups = std::max<std::size_t>(1, std::min(groups, count));
  if (groups == 1) {
    fn(0, 0, count);
    return;
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t first = count * g / groups, last = count * (g + 1) / groups;
    threads.emplace_back([&, g, first, last] {
      try {
        fn(g, first, last);
      } catch (...) {
        errors[g] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
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

Batching plan_batching(Backend backend, int threads) {
  const auto workers = static_cast<std::size_t>(std::max(1, threads));
  if (backend == Backend::Cpu) return {workers, 1, workers};
  return {1, kGpuFramesPerBatch, workers};
}

ChunkMode chunk_mode(Matching matching) {
  switch (matching) {
    case Matching::None:
      return ChunkMode::Coded;
    case Matching::Chunk:
      return ChunkMode::CodedMatched;
    case Matching::Frame:
      return ChunkMode::CodedFrameMatched;
    case Matching::FrameCounts:
      return ChunkMode::CodedFrameCounted;
    case Matching::FrameCountsWide:
      return ChunkMode::CodedFrameCountedWide;
    case Matching::FrameCountsLarge:
      return ChunkMode::CodedFrameCountedLarge;
    case Matching::FrameCountsNarrowAdapted:
      return ChunkMode::CodedAdaptedNarrow;
    case Matching::FrameCountsAdapted:
      break;
  }
  return ChunkMode::CodedAdapted;
}

Matching matching_of(ChunkMode mode) {
  return mode == ChunkMode::CodedAdaptedNarrow       ? Matching::FrameCountsNarrowAdapted
         : mode == ChunkMode::CodedAdapted           ? Matching::FrameCountsAdapted
         : mode == ChunkMode::CodedFrameCountedLarge ? Matching::FrameCountsLarge
         : mode == ChunkMode::CodedFrameCountedWide ? Matching::FrameCountsWide
         : mode == ChunkMode::CodedFrameCounted ? Matching::FrameCounts
         : mode == ChunkMode::CodedFrameMatched ? Matching::Frame
         : mode == ChunkMode::CodedMatched    ? Matching::Chunk
                                              : Matching::None;
}

// Level 1 keeps the cheaper counts and no output adaptation: their cost is a
// larger share of a small network's step (the fast model at -1 in mode 7: the
// bench's text 6.4% smaller in 2.4 times the time). Levels 2 and 4 adapt over
// the small counts (mode 8: the bench's text at -2 2.3% larger than mode 7,
// 1.2 times as fast, 92 MiB instead of 544), levels 3 and 5-9 over the large
// ones (mode 7; 0.10.1: 2-9 mode 7; 0.10.0: 1-3 mode 4, 4-9 mode 7; 0.7 to
// 0.9: 4-9 mode 6; 0.6: mode 5), or for networks too wide to adapt, 0.9's
// modes (4 at 1-3, 6 at 4-9).
Matching matching_for_level(int level, const ModelConfig& config) {
  if (level <= 1) return Matching::FrameCounts;
  if (config.width <= OutputAdaptation::kMaxWidth)
    return level == 2 || level == 4 ? Matching::FrameCountsNarrowAdapted : Matching::FrameCountsAdapted;
  return level <= 3 ? Matching::FrameCounts : Matching::FrameCountsLarge;
}

bool frame_adapts(const Frame& frame) {
  for (const ChunkEntry& e : frame.chunks)
    if (is_coded(e.mode) && adapts_output(matching_of(e.mode))) return true;
  return false;
}

Error corrupt(const std::string& what) { return Error(Error::Kind::Corrupt, what); }

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
      if (stored[i] || !shares_frame(chunks[i].matching) || chunks[i].payload.size() < sizes[i]) continue;
      stored[i] = true;
      if (redo_frame.size() <= chunks[i].frame) redo_frame.resize(chunks[i].frame + 1, false);
      redo_frame[chunks[i].frame] = true;
    }
    std::vector<std::size_t> redo;
    for (std::size_t i = 0; i < chunks.size(); ++i)
      if (!stored[i] && chunks[i].frame < redo_frame.size() && redo_frame[chunks[i].frame] &&
          shares_frame(chunks[i].matching))
        redo.push_back(i);
    if (redo.empty()) return;
    std::vector<CodedChunk> again(redo.size());
    for (std::size_t j = 0; j < redo.size(); ++j) {
      again[j].symbols = std::move(chunks[redo[j]].symbols);
      again[j].matching = chunks[redo[j]].matching;
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
  if (options.level < 1 || options.level > 9) throw Error(Error::Kind::Usage, "level must be 1..9");
  const ModelInfo info = resolve_model(options);
  auto session = ModelSession::open(info.path);
  const ModelFile& model = session->model;
  const std::size_t chunk_bytes = std::min<std::size_t>(
      options.chunk_bytes ? options.chunk_bytes : chunk_bytes_for_level(options.level, model.config.chunk_bytes),
      kMaxChunkBytes);
  const std::size_t frame_bytes = std::min<std::size_t>(chunk_bytes * kFrameStreams, kMaxFrameBytes);
  const std::size_t min_chunk_bytes = min_chunk_bytes_for_level(options.level);
  const Matching matching = matching_for_level(options.level, model.config);
  const bool adapting = adapts_output(matching);
  // Output adaptation has no GPU kernels: such levels run on the CPU's threads.
  const Backend requested = pick_backend(options.device);  // checked either way
  const Backend backend = adapting ? Backend::Cpu : requested;
  const Batching batching = plan_batching(backend, options.threads);
  session->backend = backend;

  Stats stats;
  stats.model_id = to_hex(session->id);
  stats.model_name = model.name;
  StreamHeader header;
  header.model_id = session->id;
  ContainerWriter writer(out, header);
  struct PendingFrame {
    std::vector<char> data;
    std::size_t size = 0;
    std::vector<ChunkSpan> spans;
    std::vector<std::size_t> coded_index;  // per span: its index in `chunks`, or SIZE_MAX (stored)
  };
  // Full frames' counts bound the batch (symbols <= bytes).
  const std::size_t frame_counts_bytes =
      ContextCounts::table_bytes(counts_shape(matching), frame_bytes);
  std::vector<PendingFrame> pending(
      std::clamp<std::size_t>(kBatchCountsBytes / std::max<std::size_t>(frame_counts_bytes, 1), 1, batching.frames));
  for (auto& f : pending) f.data.resize(frame_bytes);
  bool at_end = false;
  while (!at_end) {
    // Read the batch's frames; chunks worth modelling are coded, the rest stored.
    std::size_t frames = 0;
    std::vector<CodedChunk> chunks;
    std::vector<const char*> chunk_data;
    std::vector<std::size_t> chunk_size;
    while (frames < pending.size() && !at_end) {
      PendingFrame& f = pending[frames];
      f.size = read_fully(in, f.data.data(), frame_bytes);
      at_end = f.size < frame_bytes;
      if (f.size == 0) break;
      ++frames;
      f.spans = plan_chunks(f.size, chunk_bytes, min_chunk_bytes, kFrameStreams);
      f.coded_index.assign(f.spans.size(), SIZE_MAX);
      for (std::size_t i = 0; i < f.spans.size(); ++i) {
        const char* data = f.data.data() + f.spans[i].offset;
        if (!worth_modelling(reinterpret_cast<const std::uint8_t*>(data), f.spans[i].size)) continue;
        f.coded_index[i] = chunk_data.size();
        chunk_data.push_back(data);
        chunk_size.push_back(f.spans[i].size);
        chunks.emplace_back();
        chunks.back().frame = static_cast<std::uint32_t>(frames - 1);
        chunks.back().matching = matching;
      }
    }
    if (frames == 0) break;
    for_each_group(chunks.size(), batching.workers, [&](std::size_t, std::size_t first, std::size_t last) {
      for (std::size_t c = first; c < last; ++c)
        session->tokenizer->encode(reinterpret_cast<const std::uint8_t*>(chunk_data[c]), chunk_size[c],
                                   chunks[c].symbols);
    });
    if (!chunks.empty())
      encode_frames(session->predictor(batching.groups, batching.streams(), adapting), chunks, chunk_size);

    for (std::size_t fi = 0; fi < frames; ++fi) {
      const PendingFrame& f = pending[fi];
      Frame frame;
      frame.original_crc = crc32(f.data.data(), f.size);
      for (std::size_t i = 0; i < f.spans.size(); ++i) {
        ChunkEntry e;
        e.original_size = static_cast<std::uint32_t>(f.spans[i].size);
        const auto* original = reinterpret_cast<const std::uint8_t*>(f.data.data()) + f.spans[i].offset;
        CodedChunk* coded = f.coded_index[i] == SIZE_MAX ? nullptr : &chunks[f.coded_index[i]];
        if (coded != nullptr && coded->payload.size() < f.spans[i].size) {
          e.mode = chunk_mode(coded->matching);
          e.symbol_count = static_cast<std::uint32_t>(coded->symbols.size());
          e.payload_size = static_cast<std::uint32_t>(coded->payload.size());
          frame.payloads.push_back(std::move(coded->payload));
          stats.symbols += e.symbol_count;
          stats.ideal_bits += coded->ideal_bits;
        } else {
          e.mode = ChunkMode::Stored;
          e.payload_size = e.original_size;
          frame.payloads.emplace_back(original, original + f.spans[i].size);
          stats.ideal_bits += 8.0 * f.spans[i].size;
          ++stats.stored_chunks;
        }
        frame.chunks.push_back(e);
      }
      writer.write_frame(frame);
      if (!out) throw Error(Error::Kind::Io, "write error");
      stats.original_bytes += f.size;
      stats.chunks += f.spans.size();
      if (options.progress) options.progress(stats.original_bytes, writer.bytes_written());
    }
  }
  writer.finish();
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
  const Backend backend = pick_backend(options.device);
  const Batching batching = plan_batching(backend, options.threads);
  try {
    ContainerReader reader(in);
    StreamHeader header;
    bool any_stream = false;
    while (reader.next_stream(header)) {
      any_stream = true;
      ModelSession* session = nullptr;  // loaded at the first coded chunk
      stats.model_id = to_hex(header.model_id);
      std::vector<Frame> frames(batching.frames);
      // A stream's frames are all written at one level: if its first adapts
      // the output (no GPU kernels), the stream runs on the CPU's threads.
      Batching stream_batching = batching;
      bool adapting = false, first_frame = true;
      bool stream_end = false;
      while (!stream_end) {
        // Read the batch's frames; their coded chunks are decoded together.
        std::size_t count = 0, counts_bytes = 0;
        std::vector<DecodeTask> tasks;
        while (count < stream_batching.frames && counts_bytes < kBatchCountsBytes) {
          if (!reader.next_frame(frames[count])) {
            stream_end = true;
            break;
          }
          const Frame& frame = frames[count++];
          const bool adapts = frame_adapts(frame);
          if (first_frame && adapts && backend != Backend::Cpu)
            stream_batching = plan_batching(Backend::Cpu, options.threads);
          first_frame = false;
          adapting = adapting || adapts;
          ContextCounts::Shape counted;  // the container allows one counted mode a frame
          std::uint64_t counted_symbols = 0;
          for (std::size_t i = 0; i < frame.chunks.size(); ++i) {
            const ChunkEntry& e = frame.chunks[i];
            if (!is_coded(e.mode)) continue;
            if (e.symbol_count > e.original_size) throw corrupt("chunk declares more symbols than bytes");
            tasks.push_back({frame.payloads[i].data(), frame.payloads[i].size(), e.symbol_count, e.original_size,
                             matching_of(e.mode), static_cast<std::uint32_t>(count - 1), {}});
            if (counts_shape(matching_of(e.mode)).orders > 0) {
              counted = counts_shape(matching_of(e.mode));
              counted_symbols += e.symbol_count;
            }
          }
          if (counted.orders > 0) counts_bytes += ContextCounts::table_bytes(counted, counted_symbols);
        }
        if (!tasks.empty() && session == nullptr) {
          auto& slot = sessions[header.model_id];
          if (!slot) slot = ModelSession::open(find_model_by_id(options.models, header.model_id));
          slot->backend = backend;
          session = slot.get();
          stats.model_name = session->model.name;
        }
        if (!tasks.empty())
          decode_chunks(session->predictor(stream_batching.groups, stream_batching.streams(), adapting),
                        *session->tokenizer, tasks, 0, tasks.size());

        std::size_t next_task = 0;
        for (std::size_t fi = 0; fi < count; ++fi) {
          const Frame& frame = frames[fi];
          std::string bytes;
          bytes.reserve(frame.original_size());
          for (std::size_t i = 0; i < frame.chunks.size(); ++i) {
            const ChunkEntry& e = frame.chunks[i];
            if (e.mode == ChunkMode::Stored) {
              bytes.append(reinterpret_cast<const char*>(frame.payloads[i].data()), frame.payloads[i].size());
              ++stats.stored_chunks;
            } else {
              const DecodeTask& t = tasks[next_task++];
              if (t.overflow || t.overrun || t.bytes.size() != e.original_size)
                throw corrupt("chunk decodes to the wrong size (corrupt data, or a different model)");
              bytes += t.bytes;
              stats.symbols += e.symbol_count;
            }
          }
          if (crc32(bytes.data(), bytes.size()) != frame.original_crc)
            throw corrupt("checksum mismatch: the data is corrupt");
          write_out(out, bytes.data(), bytes.size());
          stats.original_bytes += bytes.size();
          stats.chunks += frame.chunks.size();
          if (options.progress) options.progress(reader.offset(), stats.original_bytes);
        }
      }
    }
    if (!any_stream) throw corrupt("empty input: not an lmzip stream");
    stats.compressed_bytes = reader.offset();
  } catch (const FormatError& e) {
    throw corrupt(e.what());
  }
  out.flush();
  if (!out) throw Error(Error::Kind::Io, "write error");
  return stats;
}

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
      Frame frame;
      while (reader.next_frame(frame)) {
        ++info.frames;
        info.chunks += frame.chunks.size();
        for (const ChunkEntry& e : frame.chunks)
          if (e.mode == ChunkMode::Stored) ++info.stored_chunks;
      }
      info.original_bytes = reader.trailer().original_size;
      info.compressed_bytes = reader.offset() - start;
      result.push_back(info);
    }
  } catch (const FormatError& e) {
    throw corrupt(e.what());
  }
  return result;
}

}  // namespace lmzip

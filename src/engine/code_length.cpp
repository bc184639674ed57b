#include "engine/code_length.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "adapt/frame_models.h"
#include "coder/range_coder.h"
#include "engine/batch_engine.h"
#include "engine/chunker.h"
#include "engine/levels.h"
#include "format/container.h"

namespace lmzip {

// One frame of one text: its chunks' symbols and, after run(), their lengths.
struct CodeLengthEngine::Unit {
  std::size_t text = 0;
  std::vector<std::vector<std::uint32_t>> chunks;
  std::vector<double> chunk_bits;
  std::vector<std::vector<double>> symbol_bits;  // per chunk, when asked for
  std::uint64_t symbols() const {
    std::uint64_t n = 0;
    for (const auto& c : chunks) n += c.size();
    return n;
  }
};

CodeLengthEngine::CodeLengthEngine(const CompressOptions& options)
    : options_(options), info_(resolve_model(options)), backends_(options.device) {
  const LevelSettings& level = level_settings(options.level);
  try {
    model_ = ModelFile::load(info_.path);
    if (model_.tokenizer == TokenizerKind::Bytes)
      tokenizer_ = Tokenizer::bytes();
    else
      tokenizer_ = Tokenizer::from_pieces(model_.pieces, model_.piece_scores);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(Error::Kind::ModelInvalid, "model " + info_.path + ": " + e.what());
  }
  mode_ = level_mode(level, model_.config.width);
  chunk_bytes_ = std::min<std::size_t>(
      options.chunk_bytes ? options.chunk_bytes : largest_chunk_bytes(level, model_.config.chunk_bytes), kMaxChunkBytes);
  smallest_chunk_bytes_ = level.smallest_chunk_bytes;
  limit_ = options.memory_limit ? options.memory_limit : default_memory_limit();
  const std::size_t groups = static_cast<std::size_t>(std::max(1, options.threads));
  const std::uint64_t model_bytes = std::filesystem::file_size(info_.path);
  Device device = Device::Cpu;
  const PredictorNeeds needs = needs_of({mode_});
  std::size_t g = groups;
  auto predictor_bytes = [&](std::size_t n) {
    return model_bytes + PredictorFactory::bytes(model_, backends_.device_for(needs), n, kFrameStreams);
  };
  while (g > 1 && predictor_bytes(g) > limit_ / 2) --g;
  if (predictor_bytes(g) > limit_ / 2)
    throw Error(Error::Kind::MemoryLimit, "the model needs " + std::to_string(predictor_bytes(g) >> 20) +
                                              " MiB of memory, more than half the limit of " +
                                              std::to_string(limit_ >> 20) + " MiB (-M/--memlimit)");
  try {
    predictor_ = backends_.make(model_, needs, g, kFrameStreams, &device);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(Error::Kind::ModelInvalid, "model " + info_.path + ": " + e.what());
  }
  limit_ -= std::min(limit_, predictor_bytes(g));
}

CodeLengthEngine::~CodeLengthEngine() = default;

void CodeLengthEngine::run(std::vector<Unit>& units, std::size_t first, std::size_t last, bool keep_symbol_bits) {
  struct Ref {
    std::size_t unit, chunk;
  };
  std::vector<Ref> refs;
  std::vector<std::uint32_t> lengths;
  std::vector<FrameModels::Chunk> setup;
  for (std::size_t u = first; u < last; ++u) {
    Unit& unit = units[u];
    unit.chunk_bits.assign(unit.chunks.size(), 0.0);
    if (keep_symbol_bits) {
      unit.symbol_bits.resize(unit.chunks.size());
      for (std::size_t c = 0; c < unit.chunks.size(); ++c) unit.symbol_bits[c].assign(unit.chunks[c].size(), 0.0);
    }
    for (std::size_t c = 0; c < unit.chunks.size(); ++c) {
      refs.push_back({u, c});
      lengths.push_back(static_cast<std::uint32_t>(unit.chunks[c].size()));
      setup.push_back({static_cast<std::uint32_t>(u - first), lengths.back(), mode_});
    }
  }
  if (refs.empty()) return;
  Predictor& predictor = *predictor_;
  FrameModels models(predictor, setup);
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 ranges.resize(n);
                 models.prepare(ids, positions, n);
                 for (std::size_t i = 0; i < n; ++i) {
                   const Ref& r = refs[ids[i]];
                   next[i] = units[r.unit].chunks[r.chunk][positions[i]];
                 }
                 predictor.ranges_of(next, ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   const Ref& ref = refs[ids[i]];
                   Unit& unit = units[ref.unit];
                   const SymbolRange r = models.mixed(i, ranges[i]);
                   const double b = ideal_bits(r.freq, r.total);
                   unit.chunk_bits[ref.chunk] += b;
                   if (keep_symbol_bits) unit.symbol_bits[ref.chunk][positions[i]] = b;
                   models.update(i, r, positions[i] + 1 == lengths[ids[i]]);
                 }
                 models.end_step(ids, n, next);
               },
               [&](std::uint32_t slot, std::uint32_t chunk) { models.admitted(slot, chunk); });
}

std::vector<double> CodeLengthEngine::bits(const std::vector<std::string>& texts,
                                           std::vector<std::vector<SymbolBits>>* symbol_bits,
                                           const std::function<void(std::size_t)>& done) {
  // Each text cut as compress() cuts a file: frames of up to kFrameStreams
  // chunks, each frame cut by plan_chunks().
  const std::size_t frame_bytes = std::min<std::uint64_t>(std::uint64_t{chunk_bytes_} * kFrameStreams, kMaxFrameBytes);
  std::vector<Unit> units;
  for (std::size_t t = 0; t < texts.size(); ++t) {
    const std::string& text = texts[t];
    for (std::size_t offset = 0; offset < text.size(); offset += frame_bytes) {
      const std::size_t size = std::min(frame_bytes, text.size() - offset);
      Unit unit;
      unit.text = t;
      for (const ChunkSpan& span : plan_chunks(size, chunk_bytes_, smallest_chunk_bytes_, kFrameStreams)) {
        unit.chunks.emplace_back();
        tokenizer_->encode(reinterpret_cast<const std::uint8_t*>(text.data() + offset + span.offset), span.size,
                           unit.chunks.back());
      }
      units.push_back(std::move(unit));
    }
  }
  // Longest first, so that the lock-step stays full until a run's end. The
  // order changes no length: each frame is coded on its own.
  std::stable_sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) { return a.symbols() > b.symbols(); });
  // Runs of frames whose per-frame models fit in half the memory left.
  const ModelConfig& config = model_.config;
  std::size_t first = 0, finished = 0;
  while (first < units.size()) {
    std::vector<FrameModels::Chunk> setup;
    std::size_t last = first;
    std::size_t chunks = 0;
    while (last < units.size()) {
      for (const auto& c : units[last].chunks)
        setup.push_back({static_cast<std::uint32_t>(last - first), static_cast<std::uint32_t>(c.size()), mode_});
      if (last > first && (FrameModels::memory_bytes(setup, config.vocab_size, config.width) > limit_ / 2 ||
                           chunks + units[last].chunks.size() > 8 * kFrameStreams))
        break;
      chunks += units[last].chunks.size();
      ++last;
    }
    run(units, first, last, symbol_bits != nullptr);
    finished += last - first;
    first = last;
    if (done) done(finished);
  }
  // Back in text order; a text's frames in order, its chunks in order.
  std::stable_sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) { return a.text < b.text; });
  std::vector<double> out(texts.size(), 0.0);
  if (symbol_bits) symbol_bits->assign(texts.size(), {});
  std::string piece;
  for (const Unit& unit : units) {
    for (std::size_t c = 0; c < unit.chunks.size(); ++c) {
      out[unit.text] += unit.chunk_bits[c];
      if (!symbol_bits) continue;
      for (std::size_t s = 0; s < unit.chunks[c].size(); ++s) {
        piece.clear();
        tokenizer_->decode(&unit.chunks[c][s], 1, piece);
        (*symbol_bits)[unit.text].push_back({static_cast<std::uint32_t>(piece.size()), unit.symbol_bits[c][s]});
      }
    }
  }
  return out;
}

std::vector<double> CodeLengthEngine::pair_bits(const std::vector<std::string>& a, const std::vector<std::string>& b,
                                                const std::function<void(std::size_t, std::size_t)>& progress) {
  const std::size_t total = a.size() * b.size();
  std::vector<double> out(total, 0.0);
  // Pairs a call at a time: at most 4,096, and no more than 64 MiB of joined
  // texts beyond the first pair (long files join into large pairs).
  constexpr std::size_t kPairsPerCall = 4096;
  constexpr std::size_t kBytesPerCall = std::size_t{64} << 20;
  std::vector<std::string> joined;
  for (std::size_t start = 0, end = 0; start < total; start = end) {
    joined.clear();
    std::size_t bytes = 0;
    for (end = start; end < total && end - start < kPairsPerCall; ++end) {
      const std::size_t size = a[end / b.size()].size() + b[end % b.size()].size();
      if (end > start && bytes + size > kBytesPerCall) break;
      bytes += size;
      joined.push_back(a[end / b.size()] + b[end % b.size()]);
    }
    const std::vector<double> bits_of = bits(joined, nullptr, [&](std::size_t done) {
      if (progress) progress(start + std::min(done, joined.size()), total);  // done counts frames
    });
    std::copy(bits_of.begin(), bits_of.end(), out.begin() + static_cast<std::ptrdiff_t>(start));
  }
  return out;
}

}  // namespace lmzip

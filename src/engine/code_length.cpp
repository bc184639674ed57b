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

namespace {
// Chunks a run holds at most, as many as run in lock-step at once: on 100
// short texts' 10,000 pairs, runs of 8 times as many took 10% longer and six
// times the memory (their frame models allocated at once); 64 to 256
// streams took the same time within 5%, 512 about 10% longer.
constexpr std::size_t kRunChunks = kFrameStreams;
}  // namespace

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
  return bits(texts, {}, symbol_bits, done);
}

std::size_t CodeLengthEngine::frame_bytes() const {
  return std::min<std::uint64_t>(std::uint64_t{chunk_bytes_} * kFrameStreams, kMaxFrameBytes);
}

std::vector<double> CodeLengthEngine::bits(const std::vector<std::string>& texts,
                                           const std::vector<std::size_t>& boundaries,
                                           std::vector<std::vector<SymbolBits>>* symbol_bits,
                                           const std::function<void(std::size_t)>& done) {
  // Each text cut as compress() cuts a file: frames of up to kFrameStreams
  // chunks, each frame cut by plan_chunks(); a chunk across a text's
  // boundary is tokenized on either side of it.
  const std::size_t frame_size = frame_bytes();
  std::vector<Unit> units;
  std::vector<std::uint32_t> ids;
  for (std::size_t t = 0; t < texts.size(); ++t) {
    const std::string& text = texts[t];
    const std::size_t boundary = t < boundaries.size() ? boundaries[t] : text.size();
    for (std::size_t offset = 0; offset < text.size(); offset += frame_size) {
      const std::size_t size = std::min(frame_size, text.size() - offset);
      Unit unit;
      unit.text = t;
      for (const ChunkSpan& span : plan_chunks(size, chunk_bytes_, smallest_chunk_bytes_, kFrameStreams)) {
        const std::size_t first = offset + span.offset, last = first + span.size;
        const std::size_t cut = std::clamp(boundary, first, last);
        unit.chunks.emplace_back();
        for (const auto& [from, to] : {std::pair{first, cut}, std::pair{cut, last}}) {
          ids.clear();
          tokenizer_->encode(reinterpret_cast<const std::uint8_t*>(text.data() + from), to - from, ids);
          unit.chunks.back().insert(unit.chunks.back().end(), ids.begin(), ids.end());
        }
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
                           chunks + units[last].chunks.size() > kRunChunks))
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
  auto tokenize = [&](const std::vector<std::string>& texts) {
    std::vector<std::vector<std::uint32_t>> ids(texts.size());
    for (std::size_t t = 0; t < texts.size(); ++t)
      tokenizer_->encode(reinterpret_cast<const std::uint8_t*>(texts[t].data()), texts[t].size(), ids[t]);
    return ids;
  };
  const std::vector<std::vector<std::uint32_t>> ta = tokenize(a), tb = tokenize(b);
  // A pair that compress() would code as one chunk goes on from its first
  // text's context, computed once for the pairs of a run, where the backend
  // saves slots and the pair's tables are the first text's size. The
  // others are coded whole, tokenized the same way.
  std::vector<std::size_t> resumed, whole;
  for (std::size_t p = 0; p < total; ++p) {
    const std::size_t i = p / b.size(), j = p % b.size();
    const std::size_t bytes = a[i].size() + b[j].size();
    const bool one_chunk =
        bytes <= frame_bytes() && plan_chunks(bytes, chunk_bytes_, smallest_chunk_bytes_, kFrameStreams).size() == 1;
    const bool resumes =
        resume_pairs_ && one_chunk && predictor_->saves_slots() && !ta[i].empty() && !tb[j].empty() &&
        FrameModels::same_table_sizes(static_cast<std::uint32_t>(ta[i].size()),
                                      static_cast<std::uint32_t>(ta[i].size() + tb[j].size()));
    (resumes ? resumed : whole).push_back(p);
  }
  std::size_t finished = 0;
  // Resumed pairs in runs of at most kRunChunks pairs whose frame models fit
  // in half the memory left; each run's first texts once.
  const ModelConfig& config = model_.config;
  for (std::size_t first = 0; first < resumed.size();) {
    std::vector<FrameModels::Chunk> setup;
    std::size_t last = first;
    for (; last < resumed.size() && last - first < kRunChunks; ++last) {
      const std::size_t i = resumed[last] / b.size(), j = resumed[last] % b.size();
      if (last == first || resumed[last - 1] / b.size() != i)
        setup.push_back({0, static_cast<std::uint32_t>(ta[i].size()), mode_});
      setup.push_back({0, static_cast<std::uint32_t>(ta[i].size() + tb[j].size()), mode_});
      for (std::size_t k = 0; k < setup.size(); ++k) setup[k].frame = static_cast<std::uint32_t>(k);
      if (last > first && FrameModels::memory_bytes(setup, config.vocab_size, config.width) > limit_ / 2) break;
    }
    resumed_run(ta, tb, b.size(), resumed.data() + first, last - first, out);
    finished += last - first;
    first = last;
    if (progress) progress(finished, total);
  }
  // The others a call at a time: at most 4,096, and no more than 64 MiB of
  // joined texts beyond the first pair (long files join into large pairs).
  constexpr std::size_t kPairsPerCall = 4096;
  constexpr std::size_t kBytesPerCall = std::size_t{64} << 20;
  std::vector<std::string> joined;
  std::vector<std::size_t> boundaries;
  for (std::size_t start = 0, end = 0; start < whole.size(); start = end) {
    joined.clear();
    boundaries.clear();
    std::size_t bytes = 0;
    for (end = start; end < whole.size() && end - start < kPairsPerCall; ++end) {
      const std::string &x = a[whole[end] / b.size()], &y = b[whole[end] % b.size()];
      if (end > start && bytes + x.size() + y.size() > kBytesPerCall) break;
      bytes += x.size() + y.size();
      joined.push_back(x + y);
      boundaries.push_back(x.size());
    }
    const std::vector<double> bits_of = bits(joined, boundaries, nullptr, [&](std::size_t done) {
      if (progress) progress(finished + std::min(done, joined.size()), total);  // done counts frames
    });
    for (std::size_t k = start; k < end; ++k) out[whole[k]] = bits_of[k - start];
    finished += end - start;
  }
  return out;
}

void CodeLengthEngine::resumed_run(const std::vector<std::vector<std::uint32_t>>& ta,
                                   const std::vector<std::vector<std::uint32_t>>& tb, std::size_t b_count,
                                   const std::size_t* pairs, std::size_t count, std::vector<double>& out) {
  // The run's chunks: first the first texts (prefix k in frame k), then the
  // pairs (pair q in frame prefixes + q), each the only chunk of its frame.
  std::vector<std::size_t> prefix_text;
  std::vector<std::uint32_t> prefix_of(count);
  for (std::size_t q = 0; q < count; ++q) {
    const std::size_t i = pairs[q] / b_count;
    if (prefix_text.empty() || prefix_text.back() != i) prefix_text.push_back(i);
    prefix_of[q] = static_cast<std::uint32_t>(prefix_text.size() - 1);
  }
  const auto prefixes = static_cast<std::uint32_t>(prefix_text.size());
  auto first_text = [&](std::size_t q) -> const std::vector<std::uint32_t>& { return ta[pairs[q] / b_count]; };
  auto second_text = [&](std::size_t q) -> const std::vector<std::uint32_t>& { return tb[pairs[q] % b_count]; };
  std::vector<FrameModels::Chunk> setup;
  std::vector<std::uint32_t> prefix_lengths(prefixes), pair_lengths(count), first_inputs(count);
  for (std::uint32_t k = 0; k < prefixes; ++k) {
    prefix_lengths[k] = static_cast<std::uint32_t>(ta[prefix_text[k]].size());
    setup.push_back({k, prefix_lengths[k], mode_});
  }
  for (std::size_t q = 0; q < count; ++q) {
    pair_lengths[q] = static_cast<std::uint32_t>(second_text(q).size());
    first_inputs[q] = first_text(q).back();
    setup.push_back({static_cast<std::uint32_t>(prefixes + q),
                     static_cast<std::uint32_t>(first_text(q).size() + pair_lengths[q]), mode_});
  }
  Predictor& predictor = *predictor_;
  FrameModels models(predictor, setup);
  std::vector<SymbolRange> ranges;

  // The first texts to their last symbols, which are not their chunks' last:
  // the second texts follow. A slot's context is saved at the step that
  // codes the last symbol, when it has been fed all the symbols before.
  std::vector<double> prefix_bits(prefixes, 0.0);
  std::vector<std::vector<std::uint8_t>> contexts(prefixes);
  std::vector<std::uint32_t> slot_of(prefixes);
  run_lockstep(
      predictor, prefix_lengths,
      [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
        ranges.resize(n);
        models.prepare(ids, positions, n);
        for (std::size_t i = 0; i < n; ++i) next[i] = ta[prefix_text[ids[i]]][positions[i]];
        predictor.ranges_of(next, ranges.data());
        for (std::size_t i = 0; i < n; ++i) {
          const SymbolRange r = models.mixed(i, ranges[i]);
          prefix_bits[ids[i]] += ideal_bits(r.freq, r.total);
          models.update(i, r, false);
          if (positions[i] + 1 == prefix_lengths[ids[i]]) contexts[ids[i]] = predictor.save_slot(slot_of[ids[i]]);
        }
        models.end_step(ids, n, next);
      },
      [&](std::uint32_t slot, std::uint32_t k) {
        slot_of[k] = slot;
        models.admitted(slot, k);
      });

  // The second texts, each from its first text's context and frame models;
  // a pair's length adds to its first text's in the same order as coding
  // the pair whole would.
  std::vector<double> pair_bits(count);
  for (std::size_t q = 0; q < count; ++q) pair_bits[q] = prefix_bits[prefix_of[q]];
  std::vector<std::uint32_t> chunk_ids, chunk_positions;
  run_lockstep(
      predictor, pair_lengths,
      [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
        chunk_ids.resize(n);
        chunk_positions.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
          chunk_ids[i] = prefixes + ids[i];
          chunk_positions[i] = static_cast<std::uint32_t>(first_text(ids[i]).size()) + positions[i];
          next[i] = second_text(ids[i])[positions[i]];
        }
        ranges.resize(n);
        models.prepare(chunk_ids.data(), chunk_positions.data(), n);
        predictor.ranges_of(next, ranges.data());
        for (std::size_t i = 0; i < n; ++i) {
          const SymbolRange r = models.mixed(i, ranges[i]);
          pair_bits[ids[i]] += ideal_bits(r.freq, r.total);
          models.update(i, r, positions[i] + 1 == pair_lengths[ids[i]]);
        }
        models.end_step(chunk_ids.data(), n, next);
      },
      [&](std::uint32_t slot, std::uint32_t q) {
        models.admitted(slot, prefixes + q);
        predictor.load_slot(slot, contexts[prefix_of[q]]);
        models.resume_from(prefix_of[q], prefixes + q);
      },
      &first_inputs);
  for (std::size_t q = 0; q < count; ++q) out[pairs[q]] = pair_bits[q];
}

}  // namespace lmzip

#include "engine/chunk_coder.h"

#include "adapt/frame_models.h"
#include "coder/range_coder.h"
#include "engine/batch_engine.h"

namespace lmzip {

void encode_chunks(Predictor& predictor, std::vector<CodedChunk>& chunks, std::size_t first, std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeEncoder> encoders;
  std::vector<FrameModels::Chunk> setup;
  encoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(static_cast<std::uint32_t>(chunks[i].symbols.size()));
    encoders.emplace_back(chunks[i].payload);
    setup.push_back({chunks[i].frame, lengths.back(), chunks[i].mode});
  }
  FrameModels models(predictor, setup);
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 ranges.resize(n);
                 models.prepare(ids, positions, n);
                 for (std::size_t i = 0; i < n; ++i) next[i] = chunks[first + ids[i]].symbols[positions[i]];
                 predictor.ranges_of(next, ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   const SymbolRange r = models.mixed(i, ranges[i]);
                   encoders[ids[i]].encode(r.below, r.freq, r.total);
                   chunks[first + ids[i]].ideal_bits += ideal_bits(r.freq, r.total);
                   models.update(i, r, positions[i] + 1 == lengths[ids[i]]);
                 }
                 models.end_step(ids, n, next);
               },
               [&](std::uint32_t slot, std::uint32_t chunk) { models.admitted(slot, chunk); });
  for (auto& e : encoders) e.finish();
}

void decode_chunks(Predictor& predictor, const Tokenizer& tokenizer, std::vector<DecodeTask>& tasks, std::size_t first,
                  std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeDecoder> decoders;
  std::vector<FrameModels::Chunk> setup;
  decoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(tasks[i].symbol_count);
    decoders.emplace_back(tasks[i].payload, tasks[i].payload_size);
    setup.push_back({tasks[i].frame, lengths.back(), tasks[i].mode});
  }
  FrameModels models(predictor, setup);
  std::vector<std::uint64_t> targets;
  std::vector<std::uint32_t> coded;
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 targets.resize(n);
                 ranges.resize(n);
                 coded.resize(n);
                 models.prepare(ids, positions, n);
                 for (std::size_t i = 0; i < n; ++i)
                   targets[i] = models.network_target(i, decoders[ids[i]].target(models.total(i)));
                 predictor.find(targets.data(), ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   DecodeTask& task = tasks[first + ids[i]];
                   RangeDecoder& d = decoders[ids[i]];
                   const SymbolRange r = models.mixed(i, ranges[i]);
                   d.consume(r.below, r.freq);
                   tokenizer.decode(&r.symbol, 1, task.bytes);
                   if (d.overrun()) throw ChunkDecodeFailure(first + ids[i], "its data ends before its symbols do");
                   if (task.bytes.size() > task.original_size)
                     throw ChunkDecodeFailure(first + ids[i], "it decodes to more bytes than its entry declares");
                   const bool last_symbol = positions[i] + 1 == lengths[ids[i]];
                   if (last_symbol && task.bytes.size() != task.original_size)
                     throw ChunkDecodeFailure(first + ids[i], "it decodes to fewer bytes than its entry declares");
                   models.update(i, r, last_symbol);
                   next[i] = r.symbol;
                   coded[i] = r.symbol;
                 }
                 models.end_step(ids, n, coded.data());
               },
               [&](std::uint32_t slot, std::uint32_t chunk) { models.admitted(slot, chunk); });
}

}  // namespace lmzip

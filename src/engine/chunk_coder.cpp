#include "engine/chunk_coder.h"

#include "coder/range_coder.h"
#include "engine/batch_engine.h"

namespace lmzip {

void encode_chunks(Predictor& predictor, std::vector<CodedChunk>& chunks, std::size_t first, std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeEncoder> encoders;
  encoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(static_cast<std::uint32_t>(chunks[i].symbols.size()));
    encoders.emplace_back(chunks[i].payload);
  }
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 for (std::size_t i = 0; i < n; ++i) next[i] = chunks[first + ids[i]].symbols[positions[i]];
                 ranges.resize(n);
                 predictor.ranges_of(next, ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   const SymbolRange& r = ranges[i];
                   encoders[ids[i]].encode(r.below, r.freq, r.total);
                   chunks[first + ids[i]].ideal_bits += ideal_bits(r.freq, r.total);
                 }
               });
  for (auto& e : encoders) e.finish();
}

void decode_chunks(Predictor& predictor, const Tokenizer& tokenizer, std::vector<DecodeTask>& tasks, std::size_t first,
                  std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeDecoder> decoders;
  decoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(tasks[i].symbol_count);
    decoders.emplace_back(tasks[i].payload, tasks[i].payload_size);
  }
  std::vector<std::uint64_t> totals, targets;
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t*, std::size_t n, std::uint32_t* next) {
                 totals.resize(n);
                 targets.resize(n);
                 ranges.resize(n);
                 predictor.totals(totals.data());
                 for (std::size_t i = 0; i < n; ++i) targets[i] = decoders[ids[i]].target(totals[i]);
                 predictor.find(targets.data(), ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   DecodeTask& task = tasks[first + ids[i]];
                   RangeDecoder& d = decoders[ids[i]];
                   const SymbolRange& r = ranges[i];
                   d.consume(r.below, r.freq);
                   tokenizer.decode(&r.symbol, 1, task.bytes);
                   // A corrupt chunk may want more bytes than its payload or
                   // decode into more than it declares: stop it there.
                   if (task.bytes.size() > task.original_size) task.overflow = true;
                   next[i] = task.overflow || d.overrun() ? kRetireChunk : r.symbol;
                 }
               });
  for (std::size_t i = first; i < last; ++i) tasks[i].overrun = decoders[i - first].overrun();
}

}  // namespace lmzip

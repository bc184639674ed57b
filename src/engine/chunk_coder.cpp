#include "engine/chunk_coder.h"

#include "coder/range_coder.h"
#include "engine/batch_engine.h"

namespace lmzip {

void encode_chunks(Predictor& predictor, std::vector<CodedChunk>& chunks, std::size_t first, std::size_t last) {
  const std::uint32_t V = predictor.vocab_size();
  std::vector<std::uint32_t> lengths;
  std::vector<RangeEncoder> encoders;
  encoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(static_cast<std::uint32_t>(chunks[i].symbols.size()));
    encoders.emplace_back(chunks[i].payload);
  }
  run_lockstep(predictor, lengths, [&](std::size_t c, std::uint32_t pos, const std::uint32_t* freqs) {
    CodedChunk& chunk = chunks[first + c];
    const std::uint32_t s = chunk.symbols[pos];
    std::uint64_t below = 0;
    for (std::uint32_t i = 0; i < s; ++i) below += freqs[i];
    std::uint64_t total = below;
    for (std::uint32_t i = s; i < V; ++i) total += freqs[i];
    encoders[c].encode(below, freqs[s], total);
    chunk.ideal_bits += ideal_bits(freqs[s], total);
    return s;
  });
  for (auto& e : encoders) e.finish();
}

void decode_chunks(Predictor& predictor, const Tokenizer& tokenizer, std::vector<DecodeTask>& tasks, std::size_t first,
                  std::size_t last) {
  const std::uint32_t V = predictor.vocab_size();
  std::vector<std::uint32_t> lengths;
  std::vector<RangeDecoder> decoders;
  decoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(tasks[i].symbol_count);
    decoders.emplace_back(tasks[i].payload, tasks[i].payload_size);
    tasks[i].bytes.reserve(tasks[i].original_size);
  }
  std::vector<std::uint64_t> cum(V + 1);
  run_lockstep(predictor, lengths, [&](std::size_t c, std::uint32_t, const std::uint32_t* freqs) -> std::uint32_t {
    DecodeTask& task = tasks[first + c];
    const std::uint64_t total = cumulative_frequencies(freqs, V, cum.data());
    RangeDecoder& d = decoders[c];
    const auto s = static_cast<std::uint32_t>(find_symbol(cum.data(), V, d.target(total)));
    d.consume(cum[s], freqs[s]);
    // A corrupt chunk may decode into more bytes than it declares; stop growing.
    if (!task.overflow) {
      tokenizer.decode(&s, 1, task.bytes);
      if (task.bytes.size() > task.original_size) task.overflow = true;
    }
    return s;
  });
  for (std::size_t i = first; i < last; ++i) tasks[i].overrun = decoders[i - first].overrun();
}

}  // namespace lmzip

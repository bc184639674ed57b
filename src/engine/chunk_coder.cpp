#include "engine/chunk_coder.h"

#include "coder/range_coder.h"
#include "engine/batch_engine.h"
#include "engine/table_mixer.h"

#include <algorithm>
#include <optional>

#include "model/output_adaptation.h"

namespace lmzip {

namespace {

// The output adaptation of a run whose chunks adapt (chunk mode 7): one
// matrix per frame, attached to the predictor while the run lasts.
class RunAdaptation {
 public:
  RunAdaptation(Predictor& predictor, const std::vector<MatchModels::Chunk>& chunks)
      : predictor_(predictor), chunks_(chunks) {
    std::uint32_t frames = 0;
    for (const auto& c : chunks)
      if (adapts_output(c.matching)) frames = std::max(frames, c.frame + 1);
    if (frames == 0) return;
    adaptation_.emplace(predictor.vocab_size(), frames, predictor.max_streams());
    predictor.attach(&*adaptation_);
  }
  ~RunAdaptation() {
    if (adaptation_) predictor_.attach(nullptr);
  }
  RunAdaptation(const RunAdaptation&) = delete;
  RunAdaptation& operator=(const RunAdaptation&) = delete;

  void admitted(std::uint32_t slot, std::uint32_t chunk) {
    if (!adaptation_) return;
    const MatchModels::Chunk& c = chunks_[chunk];
    adaptation_->assign(slot, adapts_output(c.matching) ? static_cast<std::int32_t>(c.frame) : -1);
  }

  // After a step's rows coded symbols[i].
  void learn(const std::uint32_t* symbols) {
    if (!adaptation_) return;
    predictor_.learn(symbols);
    predictor_.for_row_ranges(predictor_.vocab_size(), [this](std::size_t first, std::size_t last) {
      adaptation_->apply(static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(last));
    });
    adaptation_->end_step();
  }

 private:
  Predictor& predictor_;
  const std::vector<MatchModels::Chunk>& chunks_;
  std::optional<OutputAdaptation> adaptation_;
};

}  // namespace

void encode_chunks(Predictor& predictor, std::vector<CodedChunk>& chunks, std::size_t first, std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeEncoder> encoders;
  std::vector<MatchModels::Chunk> setup;
  encoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(static_cast<std::uint32_t>(chunks[i].symbols.size()));
    encoders.emplace_back(chunks[i].payload);
    setup.push_back({chunks[i].frame, lengths.back(), chunks[i].matching});
  }
  TableMixer mixer(setup);
  RunAdaptation adaptation(predictor, setup);
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 ranges.resize(n);
                 mixer.prepare(predictor, ids, positions, n);
                 for (std::size_t i = 0; i < n; ++i) next[i] = chunks[first + ids[i]].symbols[positions[i]];
                 predictor.ranges_of(next, ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   const SymbolRange r = mixer.mixed(i, ranges[i]);
                   encoders[ids[i]].encode(r.below, r.freq, r.total);
                   chunks[first + ids[i]].ideal_bits += ideal_bits(r.freq, r.total);
                   mixer.update(i, r, positions[i] + 1 == lengths[ids[i]]);
                 }
                 mixer.end_step(predictor, ids, n);
                 adaptation.learn(next);
               },
               [&](std::uint32_t slot, std::uint32_t chunk) { adaptation.admitted(slot, chunk); });
  for (auto& e : encoders) e.finish();
}

void decode_chunks(Predictor& predictor, const Tokenizer& tokenizer, std::vector<DecodeTask>& tasks, std::size_t first,
                  std::size_t last) {
  std::vector<std::uint32_t> lengths;
  std::vector<RangeDecoder> decoders;
  std::vector<MatchModels::Chunk> setup;
  decoders.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    lengths.push_back(tasks[i].symbol_count);
    decoders.emplace_back(tasks[i].payload, tasks[i].payload_size);
    setup.push_back({tasks[i].frame, lengths.back(), tasks[i].matching});
  }
  TableMixer mixer(setup);
  RunAdaptation adaptation(predictor, setup);
  std::vector<std::uint64_t> targets;
  std::vector<std::uint32_t> coded;
  std::vector<SymbolRange> ranges;
  run_lockstep(predictor, lengths,
               [&](const std::uint32_t* ids, const std::uint32_t* positions, std::size_t n, std::uint32_t* next) {
                 targets.resize(n);
                 ranges.resize(n);
                 coded.resize(n);
                 mixer.prepare(predictor, ids, positions, n);
                 for (std::size_t i = 0; i < n; ++i)
                   targets[i] = mixer.network_target(i, decoders[ids[i]].target(mixer.total(i)));
                 predictor.find(targets.data(), ranges.data());
                 for (std::size_t i = 0; i < n; ++i) {
                   DecodeTask& task = tasks[first + ids[i]];
                   RangeDecoder& d = decoders[ids[i]];
                   const SymbolRange r = mixer.mixed(i, ranges[i]);
                   d.consume(r.below, r.freq);
                   tokenizer.decode(&r.symbol, 1, task.bytes);
                   // A corrupt chunk may want more bytes than its payload or
                   // decode into more than it declares: stop it there.
                   if (task.bytes.size() > task.original_size) task.overflow = true;
                   const bool retire = task.overflow || d.overrun();
                   mixer.update(i, r, retire || positions[i] + 1 == lengths[ids[i]]);
                   next[i] = retire ? kRetireChunk : r.symbol;
                   coded[i] = r.symbol;
                 }
                 mixer.end_step(predictor, ids, n);
                 adaptation.learn(coded.data());
               },
               [&](std::uint32_t slot, std::uint32_t chunk) { adaptation.admitted(slot, chunk); });
  for (std::size_t i = first; i < last; ++i) tasks[i].overrun = decoders[i - first].overrun();
}

}  // namespace lmzip

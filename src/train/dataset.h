// Training data: the input files as token ids, split into a training part and
// a held-out part, cached in the checkpoint folder so a resumed run does not
// tokenize again; and the random batches drawn from it.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/xoshiro256.h"
#include "tokenize/tokenizer.h"

namespace lmzip {

struct TrainOptions;

namespace trainer {

// The trainer's draws from xoshiro256** (model/xoshiro256.h), whose state a
// checkpoint stores.
class Rng : public Xoshiro256 {
 public:
  explicit Rng(std::uint64_t seed = 1) : Xoshiro256(seed) {}
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n), n > 0
  double uniform();                      // [0, 1)
};

// Token ids of every input file. The held-out part of a file is its last
// `holdout` fraction of bytes (split before tokenizing), so held-out text is
// never seen in training and every file contributes to both parts.
struct Corpus {
  std::string tokenizer_kind;       // "bytes" or "sentencepiece"
  std::string sentencepiece_model;  // serialized ModelProto, sentencepiece only
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<std::int32_t> piece_scores;  // the encoder's preference per id; 0s for bytes
  std::vector<std::string> files;   // sorted paths
  std::uint64_t total_bytes = 0;

  // All files' training parts back to back; file f holds
  // train[train_starts[f] .. train_starts[f + 1]).
  std::vector<std::uint16_t> train;
  std::vector<std::uint64_t> train_starts;
  std::vector<std::uint16_t> held;
  std::vector<std::uint64_t> held_starts;

  std::uint32_t vocab_size() const { return static_cast<std::uint32_t>(tokenizer->vocab_size()); }
  // Number of bytes the ids stand for.
  std::uint64_t bytes_of(const std::uint16_t* ids, std::size_t count) const;
};

// Lists the inputs (folders recursively, sorted), tokenizes them (training
// the SentencePiece model first if asked) and caches the result under
// `cache_dir` (empty: no cache). A cache made from the same files and
// settings is loaded instead. Progress goes to stderr. `init_sentencepiece`:
// the SentencePiece model (serialized) of options.init_model, if it has one.
Corpus prepare_corpus(const TrainOptions& options, const std::string& cache_dir,
                      const std::string& init_sentencepiece = {});

// Fills one batch: every sequence starts with BOS, as a chunk does when
// compressing. Most start at a uniformly random position of the training
// text (a chunk that starts mid-file); one in eight at the start of a file.
// inputs and targets are [batch][sequence]; targets past the end of the
// sequence's file are -1 (ignored by the loss).
void sample_batch(const Corpus& corpus, Rng& rng, std::uint32_t batch, std::uint32_t sequence,
                  std::int64_t* inputs, std::int64_t* targets);

// Held-out chunks of `length` symbols, each from one file's held-out part
// (its offset into corpus.held), at most max_chunks spread evenly over them.
std::vector<std::uint64_t> heldout_chunks(const Corpus& corpus, std::uint32_t length,
                                          std::size_t max_chunks);

}  // namespace trainer
}  // namespace lmzip

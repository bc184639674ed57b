// Trains the vocabulary of a token-level lmzip model with SentencePiece's
// trainer, run as the `spm_train` program (Debian package `sentencepiece`):
// libsentencepiece cannot be linked beside libtorch (see tokenizer.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

struct SentencePieceVocab {
  std::string model_proto;           // the trained SentencePiece model file, kept in the lmzip model
  std::vector<std::string> pieces;   // bytes of each id: control pieces empty, <0xNN> one byte, U+2581 -> ' '
  std::vector<std::int32_t> scores;  // log-probability * 1024; byte pieces below every other piece
};

// A unigram model on the lines of `files`, made for lossless coding: identity
// normalization, byte fallback (all 256 bytes are pieces), no dummy prefix,
// whitespace kept, digits split. At most max_sentences lines are sampled
// (0: all). Throws std::runtime_error if spm_train is missing or fails.
SentencePieceVocab train_sentencepiece(const std::vector<std::string>& files, std::uint32_t vocab_size,
                                       std::uint64_t max_sentences, std::uint64_t seed);

// The pieces and scores of a SentencePiece model file (its serialized
// ModelProto), as train_sentencepiece gives them: read without
// libsentencepiece, so a model trained elsewhere needs no SentencePiece here.
// Throws std::runtime_error unless it is a unigram model with byte fallback.
SentencePieceVocab read_sentencepiece_model(std::string model_proto);

}  // namespace lmzip

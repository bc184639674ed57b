// Bytes <-> symbols. Every symbol id stands for a fixed byte string (its
// piece), so decoding concatenates pieces and needs nothing else.
//
// Token models take their pieces from SentencePiece's trainer; encoding is
// our own: the segmentation with the best total piece score (unigram
// Viterbi) over the input *bytes*. Single-byte pieces exist for all 256
// values, so every byte string has a segmentation: invalid UTF-8, NUL or
// anything else is lossless by construction. (libsentencepiece is not linked:
// Debian's copy embeds protobuf 3.14, which cannot share a process with
// libtorch's protobuf 3.21.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace lmzip {

class Tokenizer {
 public:
  // The 256 byte values, id == byte.
  static std::unique_ptr<Tokenizer> bytes();
  // A table of pieces and their scores (higher is preferred; an empty piece
  // is never produced by encode()). Throws std::runtime_error unless every
  // byte value has a single-byte piece and scores.size() == pieces.size().
  static std::unique_ptr<Tokenizer> from_pieces(std::vector<std::string> pieces, std::vector<std::int32_t> scores);

  bool is_bytes() const { return is_bytes_; }
  std::size_t vocab_size() const { return pieces_.size(); }
  const std::vector<std::string>& pieces() const { return pieces_; }
  const std::string& piece(std::uint32_t id) const { return pieces_[id]; }
  // The id that stands for byte b (the best-scored single-byte piece).
  std::uint32_t byte_id(std::uint8_t b) const { return byte_ids_[b]; }

  // Lossless: concatenating piece(id) over the result gives data back exactly.
  void encode(const std::uint8_t* data, std::size_t size, std::vector<std::uint32_t>& ids) const;
  // Appends the bytes of ids to out; an id >= vocab_size() throws std::out_of_range.
  void decode(const std::uint32_t* ids, std::size_t count, std::string& out) const;

 private:
  Tokenizer() = default;
  bool is_bytes_ = false;
  std::vector<std::string> pieces_;
  std::vector<std::int32_t> scores_;
  std::uint32_t byte_ids_[256] = {};
  // Trie of the pieces' bytes: (node << 8 | byte) -> child node; node 0 is the root.
  std::unordered_map<std::uint64_t, std::uint32_t> trie_;
  std::vector<std::int64_t> node_piece_;  // piece id ending at each node, or -1
  std::size_t max_piece_bytes_ = 1;
};

}  // namespace lmzip

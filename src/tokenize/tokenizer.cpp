#include "tokenize/tokenizer.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace lmzip {

std::unique_ptr<Tokenizer> Tokenizer::bytes() {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->is_bytes_ = true;
  for (int b = 0; b < 256; ++b) {
    t->pieces_.emplace_back(1, static_cast<char>(b));
    t->scores_.push_back(0);
    t->byte_ids_[b] = static_cast<std::uint32_t>(b);
  }
  return t;
}

std::unique_ptr<Tokenizer> Tokenizer::from_pieces(std::vector<std::string> pieces, std::vector<std::int32_t> scores) {
  if (scores.size() != pieces.size()) throw std::runtime_error("tokenizer: one score per piece expected");
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->pieces_ = std::move(pieces);
  t->scores_ = std::move(scores);
  bool identity = t->pieces_.size() == 256;
  bool have_byte[256] = {};
  t->node_piece_.push_back(-1);
  for (std::uint32_t id = 0; id < t->pieces_.size(); ++id) {
    const std::string& p = t->pieces_[id];
    if (p.empty()) continue;
    if (p.size() == 1) {
      const auto b = static_cast<std::uint8_t>(p[0]);
      if (!have_byte[b] || t->scores_[id] > t->scores_[t->byte_ids_[b]]) t->byte_ids_[b] = id;
      have_byte[b] = true;
    }
    if (identity && (p.size() != 1 || static_cast<std::uint8_t>(p[0]) != id)) identity = false;
    std::uint32_t node = 0;
    for (char ch : p) {
      const std::uint64_t key = (std::uint64_t{node} << 8) | static_cast<std::uint8_t>(ch);
      auto it = t->trie_.find(key);
      if (it == t->trie_.end()) {
        it = t->trie_.emplace(key, static_cast<std::uint32_t>(t->node_piece_.size())).first;
        t->node_piece_.push_back(-1);
      }
      node = it->second;
    }
    // Of two pieces with the same bytes, the better score wins.
    std::int64_t& owner = t->node_piece_[node];
    if (owner < 0 || t->scores_[id] > t->scores_[static_cast<std::size_t>(owner)]) owner = id;
    t->max_piece_bytes_ = std::max(t->max_piece_bytes_, p.size());
  }
  for (int b = 0; b < 256; ++b)
    if (!have_byte[b]) throw std::runtime_error("tokenizer: no single-byte piece for byte " + std::to_string(b));
  t->is_bytes_ = identity;
  return t;
}

void Tokenizer::encode(const std::uint8_t* data, std::size_t size, std::vector<std::uint32_t>& ids) const {
  ids.clear();
  if (is_bytes_) {
    ids.assign(data, data + size);
    return;
  }
  // best[i]: the best total score of a segmentation of data[0, i); from[i]: the piece ending there.
  constexpr std::int64_t kUnreached = std::numeric_limits<std::int64_t>::min();
  std::vector<std::int64_t> best(size + 1, kUnreached);
  std::vector<std::uint32_t> from(size + 1, 0);
  best[0] = 0;
  for (std::size_t start = 0; start < size; ++start) {
    if (best[start] == kUnreached) continue;
    std::uint32_t node = 0;
    for (std::size_t end = start; end < size && end - start < max_piece_bytes_; ++end) {
      const auto it = trie_.find((std::uint64_t{node} << 8) | data[end]);
      if (it == trie_.end()) break;
      node = it->second;
      const std::int64_t id = node_piece_[node];
      if (id < 0) continue;
      const std::int64_t score = best[start] + scores_[static_cast<std::size_t>(id)];
      // Strictly better only: ties keep the earlier start, so the result is a pure function of the input.
      if (score > best[end + 1]) {
        best[end + 1] = score;
        from[end + 1] = static_cast<std::uint32_t>(id);
      }
    }
  }
  for (std::size_t end = size; end > 0; end -= pieces_[from[end]].size()) ids.push_back(from[end]);
  std::reverse(ids.begin(), ids.end());
}

void Tokenizer::decode(const std::uint32_t* ids, std::size_t count, std::string& out) const {
  for (std::size_t i = 0; i < count; ++i) {
    if (ids[i] >= pieces_.size()) throw std::out_of_range("tokenizer: symbol id out of range");
    out += pieces_[ids[i]];
  }
}

}  // namespace lmzip

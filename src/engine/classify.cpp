// The public face of the code-length engine (lmzip.h, "The model as a
// measure"): code lengths, per-line lengths, NCD matrices, the kNN vote and
// its evaluation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/code_length.h"
#include "lmzip/lmzip.h"

namespace lmzip {

CodeLengths::CodeLengths(const CompressOptions& options) : engine_(std::make_unique<CodeLengthEngine>(options)) {}
CodeLengths::~CodeLengths() = default;

ModelInfo CodeLengths::model() const { return engine_->model(); }

std::vector<double> CodeLengths::bits(const std::vector<std::string>& texts) { return engine_->bits(texts); }

std::vector<std::vector<CodeLengths::LineBits>> CodeLengths::line_bits(const std::vector<std::string>& texts) {
  std::vector<std::vector<CodeLengthEngine::SymbolBits>> symbols;
  engine_->bits(texts, &symbols);
  std::vector<std::vector<LineBits>> out(texts.size());
  for (std::size_t t = 0; t < texts.size(); ++t) {
    const std::string& text = texts[t];
    // Lines by their first byte's offset.
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < text.size();) {
      starts.push_back(i);
      const std::size_t newline = text.find('\n', i);
      i = newline == std::string::npos ? text.size() : newline + 1;
    }
    out[t].resize(starts.size());
    for (std::size_t l = 0; l < starts.size(); ++l)
      out[t][l].bytes = (l + 1 < starts.size() ? starts[l + 1] : text.size()) - starts[l];
    std::size_t offset = 0, line = 0;
    for (const auto& s : symbols[t]) {
      while (line + 1 < starts.size() && starts[line + 1] <= offset) ++line;
      if (!out[t].empty()) out[t][line].bits += s.bits;
      offset += s.bytes;
    }
  }
  return out;
}

std::vector<std::vector<double>> CodeLengths::ncd_matrix(const std::vector<std::string>& a,
                                                         const std::vector<std::string>& b,
                                                         const std::function<void(std::size_t, std::size_t)>& progress) {
  const std::vector<double> ca = engine_->bits(a), cb = engine_->bits(b);
  const std::vector<double> cab = engine_->pair_bits(a, b, progress);
  std::vector<std::vector<double>> out(a.size(), std::vector<double>(b.size(), 0.0));
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < b.size(); ++j) out[i][j] = ncd(cab[i * b.size() + j], ca[i], cb[j]);
  return out;
}

double ncd(double cxy, double cx, double cy) {
  const double hi = std::max(cx, cy), lo = std::min(cx, cy);
  if (hi <= 0) return 0;
  return (cxy - lo) / hi;
}

std::size_t knn_label(const std::vector<double>& distances, const std::vector<std::size_t>& labels, int k) {
  if (k < 1) throw Error(Error::Kind::Usage, "k must be at least 1");
  if (distances.empty()) throw Error(Error::Kind::Usage, "no training items to vote");
  if (distances.size() != labels.size()) throw Error(Error::Kind::Usage, "distances and labels differ in number");
  std::vector<std::size_t> order(distances.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(k), order.size());
  auto nearer = [&](std::size_t x, std::size_t y) {
    return distances[x] < distances[y] || (distances[x] == distances[y] && x < y);
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(), nearer);
  // Votes per label, and for each label the rank of its first neighbour.
  std::vector<std::pair<std::size_t, std::size_t>> tally;  // (label, votes), in order of first appearance
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t label = labels[order[r]];
    auto it = std::find_if(tally.begin(), tally.end(), [&](const auto& e) { return e.first == label; });
    if (it == tally.end())
      tally.push_back({label, 1});
    else
      ++it->second;
  }
  // The first label to reach the most votes: most votes, then nearest first neighbour.
  std::size_t best = 0;
  for (std::size_t i = 1; i < tally.size(); ++i)
    if (tally[i].second > tally[best].second) best = i;
  return tally[best].first;
}

Evaluation evaluate(const std::vector<std::size_t>& truth, const std::vector<std::size_t>& predicted,
                    std::size_t classes) {
  if (truth.size() != predicted.size()) throw Error(Error::Kind::Usage, "truth and predictions differ in number");
  Evaluation e;
  e.confusion.assign(classes, std::vector<std::size_t>(classes, 0));
  e.support.assign(classes, 0);
  e.predicted.assign(classes, 0);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] >= classes || predicted[i] >= classes) throw Error(Error::Kind::Usage, "class out of range");
    ++e.confusion[truth[i]][predicted[i]];
    ++e.support[truth[i]];
    ++e.predicted[predicted[i]];
    if (truth[i] == predicted[i]) ++e.correct;
  }
  e.total = truth.size();
  e.accuracy = e.total ? static_cast<double>(e.correct) / static_cast<double>(e.total) : 0.0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t c = 0; c < classes; ++c) {
    const double right = static_cast<double>(e.confusion[c][c]);
    e.precision.push_back(e.predicted[c] ? right / static_cast<double>(e.predicted[c]) : nan);
    e.recall.push_back(e.support[c] ? right / static_cast<double>(e.support[c]) : nan);
  }
  return e;
}

}  // namespace lmzip

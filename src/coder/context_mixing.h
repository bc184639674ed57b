// A byte-oriented context-mixing coder for binary data (executables, object
// files, databases, fonts, bytecode, tables): each byte is coded as 8 binary
// decisions, each predicted by hashed context models, a match model and a
// record model, mixed by integer neural mixers and refined by APM stages.
// Integer-exact: no floating point in prediction or coding, so the payload is
// bit-identical on every CPU and compiler. docs/context-mixing.md describes the
// models and the payload precisely.
// Depends on the standard library and coder/bit_coder.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

// Largest input: the container's chunk limit.
constexpr std::size_t kContextMixingMaxBytes = std::size_t{16} << 20;

// Memory the coder allocates for an input of `size` bytes (either direction),
// for the caller's memory limit (tables, history, the encoder's copy and output).
std::uint64_t context_mixing_bytes(std::size_t size);

// A byte-level network's predictions of each next byte, mixed in as more
// inputs (chunk mode 14, docs/context-mixing.md "Network inputs"). Its tables
// must be a pure function of the bytes fed since the start, as a Predictor's.
class BytePredictions {
 public:
  virtual ~BytePredictions() = default;
  // Starts over (before the first byte).
  virtual void reset() = 0;
  // Feeds `symbol` (256 first after reset(), then each byte coded) and
  // writes the next byte's 256 frequencies, each >= 1, their sum < 2^32.
  virtual void step(std::uint32_t symbol, std::uint32_t* freqs) = 0;
};

// The payload coding data[0, size), 1 <= size <= kContextMixingMaxBytes
// (throws std::invalid_argument otherwise); with `network`, its predictions
// are mixed in and the payload says so (decoding needs the same network).
std::vector<std::uint8_t> context_mixing_encode(const std::uint8_t* data, std::size_t size,
                                                BytePredictions* network = nullptr);

// Decodes payload into out[0, original_size). True only if the coded stream
// decodes to exactly original_size bytes without reading past its end
// (BitDecoder::overrun()); otherwise false with the reason in *why. Never
// crashes, hangs or allocates without bound on hostile input.
// A payload coded with a network decodes only with `network` given, one
// without only without (false otherwise).
bool context_mixing_decode(const std::uint8_t* payload, std::size_t payload_size, std::uint8_t* out,
                           std::size_t original_size, std::string* why = nullptr,
                           BytePredictions* network = nullptr);

}  // namespace lmzip

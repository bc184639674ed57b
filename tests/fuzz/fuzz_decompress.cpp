// libFuzzer target for the whole decompressor: lmzip::decompress on arbitrary
// bytes, with two tiny models (a byte model and a token model, fuzz_models.h)
// in the search path, so that coded chunks really run the network, the range
// decoder and the detokenizer. Only lmzip::Error may escape; a crash, a
// sanitizer report, std::bad_alloc or any other exception, or an allocation
// over -malloc_limit_mb is a bug. When decompress() accepts an input,
// lmzip::list() must accept it too and agree on the original size.
//
// Memory: decoding runs under fuzz::kMemoryLimit (as `-M`), and run.sh
// makes an allocation over it, or a resident size over twice it, a finding.
// Time: work is proportional to the symbols decoded, and a legitimate stream
// of zeros codes millions of symbols in a few hundred bytes of payload, so
// inputs declaring more than kMaxCodedSymbols coded symbols (counting each
// byte of a network-context-mix chunk: a network step each) are skipped
// (docs/reliability.md); under that, run.sh makes an input that takes more
// than a few seconds a finding: the decoder must stop a chunk as soon as its
// payload cannot hold what it declares.
//
// Build and run: tests/fuzz/run.sh decompress SECONDS.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "format/container.h"
#include "fuzz_models.h"
#include "lmzip/lmzip.h"

namespace {

constexpr std::uint64_t kMaxCodedSymbols = 1 << 16;
std::string g_byte_model;

// Sum of the coded symbol counts the container declares, reading only as far
// as it parses (the decoder reports whatever comes after).
std::uint64_t declared_coded_symbols(const std::string& input) {
  std::istringstream in(input);
  lmzip::ContainerReader reader(in);
  std::uint64_t total = 0;
  try {
    lmzip::StreamHeader header;
    lmzip::Frame frame;
    while (reader.next_stream(header))
      while (reader.next_frame(frame))
        for (const auto& chunk : frame.chunks)
          if (lmzip::is_network_coded(chunk.mode))
            total += chunk.symbol_count;
          else if (lmzip::needs_model(chunk.mode))  // the network steps once a byte
            total += chunk.original_size;
  } catch (const lmzip::FormatError&) {
  }
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = lmzip::fuzz::write_models_for_process();
  g_byte_model = dir + "/byte.lmzm";
  // The token model is found by its id through the search path.
  setenv("LMZIP_MODEL_PATH", dir.c_str(), 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (declared_coded_symbols(input) > kMaxCodedSymbols) return 0;

  lmzip::DecompressOptions options;
  options.models.explicit_path = g_byte_model;
  options.threads = 1;
  options.memory_limit = lmzip::fuzz::kMemoryLimit;
  std::istringstream in(input);
  std::ostringstream out;
  lmzip::Stats stats;
  try {
    stats = lmzip::decompress(in, out, options);
  } catch (const lmzip::Error&) {
    return 0;
  }
  if (stats.original_bytes != out.str().size()) std::abort();
  std::istringstream again(input);
  std::uint64_t listed = 0;
  for (const auto& stream : lmzip::list(again)) listed += stream.original_bytes;  // must not throw
  if (listed != stats.original_bytes) std::abort();
  return 0;
}

// libFuzzer target for mode 13's decoder (coder/deflate_streams.h): the
// payload's stream table, context mixing of the inflated bytes and zlib's
// deflate rebuilding the streams. The first two bytes are the chunk's
// original size (little-endian, at least 1), the rest the payload. It must
// return true or false with a reason, never crash or allocate more than its
// header lets the caller weigh: inputs whose inflated bytes would take more
// than the decompress target's memory limit are skipped, as the engine refuses them.
//
// Build and run: tests/fuzz/run.sh inflated SECONDS.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "coder/deflate_streams.h"

namespace {
constexpr std::uint64_t kMemoryLimit = std::uint64_t{64} << 20;  // as fuzz::kMemoryLimit
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t original_size = data[0] | std::size_t{data[1]} << 8;
  if (original_size == 0) return 0;
  lmzip::InflatedHeader header;
  std::string why;
  if (!lmzip::read_inflated_header(data + 2, size - 2, original_size, &header, &why)) {
    if (why.empty()) std::abort();
    return 0;
  }
  if (lmzip::inflated_context_mixing_bytes(header.inflated_size) > kMemoryLimit) return 0;
  std::vector<std::uint8_t> out(original_size);
  why.clear();
  if (!lmzip::inflated_context_mixing_decode(data + 2, size - 2, out.data(), out.size(), &why) && why.empty())
    std::abort();
  return 0;
}

// libFuzzer target for mode 13's stream table and deflate rebuild
// (coder/deflate_streams.h). The first two bytes are the chunk's original size
// (little-endian, at least 1); then a mode-13 payload header, whose coded bytes
// stand for the inflated bytes themselves (cut or padded with zeros to the
// size the header declares): context mixing is fuzzed through the decompress
// target, and decoding its garbage here would take nearly all the time.
// read_inflated_header and deflate_streams must return true or false with a
// reason, never crash, hang or allocate more than the header's sizes.
//
// Build and run: tests/fuzz/run.sh inflated SECONDS.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "coder/deflate_streams.h"

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
  const std::uint8_t* rest = data + 2 + header.header_size;
  std::vector<std::uint8_t> inflated(rest, rest + std::min(header.inflated_size, size - 2 - header.header_size));
  inflated.resize(header.inflated_size);
  std::vector<std::uint8_t> out(original_size);
  why.clear();
  if (!lmzip::deflate_streams(inflated.data(), inflated.size(), header.streams, out.data(), out.size(), &why) &&
      why.empty())
    std::abort();
  return 0;
}

// libFuzzer target for losslessness: compress() then decompress() of
// arbitrary bytes with a tiny model must give the bytes back, and the
// compressed stream may exceed the input only by the container's fixed
// overhead (stored chunks bound the expansion). The first input byte picks
// the chunk size (1..256 bytes) and the model (byte or token), so small
// inputs still make many chunks and several frames (a frame holds 256).
//
// Build and run: tests/fuzz/run.sh roundtrip SECONDS.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "fuzz_models.h"
#include "lmzip/lmzip.h"

namespace {
std::string g_dir;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_dir = lmzip::fuzz::write_models_for_process();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const unsigned knob = size ? data[0] : 0;
  const std::string model = g_dir + ((knob & 1) ? "/token.lmzm" : "/byte.lmzm");

  lmzip::CompressOptions c;
  c.models.explicit_path = model;
  c.chunk_bytes = 1 + (knob >> 1) * 2;  // 1..255
  c.threads = 1;
  std::istringstream in(input);
  std::ostringstream packed;
  const lmzip::Stats cs = lmzip::compress(in, packed, c);  // must not throw
  const std::string compressed = packed.str();
  if (cs.original_bytes != size || cs.compressed_bytes != compressed.size()) std::abort();
  // Header and end block (63 bytes), a frame's type, count, CRCs (13 bytes),
  // a chunk entry (13 bytes): there are at most as many frames as chunks.
  if (compressed.size() > size + 63 + 26 * cs.chunks) std::abort();

  lmzip::DecompressOptions d;
  d.models.explicit_path = model;
  d.threads = 1;
  std::istringstream packed_in(compressed);
  std::ostringstream out;
  lmzip::decompress(packed_in, out, d);  // must not throw
  if (out.str() != input) std::abort();
  return 0;
}

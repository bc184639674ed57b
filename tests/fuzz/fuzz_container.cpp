// libFuzzer target for the .lmz container reader: arbitrary bytes must either
// parse or throw lmzip::FormatError; anything else (another exception, a
// crash, an ASan report, a huge allocation) is a bug. Every stream that
// parses must also be written back byte for byte by ContainerWriter: the
// format has one encoding per content, so a reader that accepts anything
// else is accepting something the writer never produces.
//
// Build and run: tests/fuzz/run.sh container SECONDS (cmake/fuzz.cmake,
// docs/reliability.md). By hand, from the repository root:
//   clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/fuzz_container.cpp src/format/container.cpp src/hash/crc32.cpp \
//     -o fuzz_container
//   ./fuzz_container -max_total_time=60 -rss_limit_mb=512 tests/fuzz/corpus/decompress
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "format/container.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::istringstream in(input);
  lmzip::ContainerReader reader(in);
  std::ostringstream rewritten;
  try {
    lmzip::StreamHeader header;
    while (reader.next_stream(header)) {
      lmzip::ContainerWriter writer(rewritten, header);
      lmzip::Frame frame;
      while (reader.next_frame(frame)) writer.write_frame(frame);
      writer.finish();
    }
  } catch (const lmzip::FormatError&) {
    return 0;
  }
  // Accepted: all of it was read, and it is exactly what the writer makes.
  if (reader.offset() != size || rewritten.str() != input) std::abort();
  return 0;
}

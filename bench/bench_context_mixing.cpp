// bench_context_mixing FILE...: codes each file with the context-mixing coder
// (src/coder/context_mixing.h) and prints its size, payload, bits per byte,
// encode and decode speed (KB/s = 1000 bytes per second of this process's CPU
// time) and whether it round-trips, then the totals.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "coder/context_mixing.h"

namespace {

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_context_mixing FILE...\n");
    return 2;
  }
  std::uint64_t total_in = 0, total_out = 0;
  double total_enc = 0, total_dec = 0;
  bool all_ok = true;
  std::printf("%-40s %10s %10s %7s %9s %9s %s\n", "file", "bytes", "payload", "bpb", "enc KB/s", "dec KB/s", "check");
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "cannot read %s\n", argv[a]);
      return 2;
    }
    if (data.empty() || data.size() > lmzip::kContextMixingMaxBytes) {
      std::fprintf(stderr, "skipping %s: size %zu outside [1, 16 MiB]\n", argv[a], data.size());
      continue;
    }
    double t0 = cpu_seconds();
    const std::vector<std::uint8_t> payload = lmzip::context_mixing_encode(data.data(), data.size());
    const double enc = cpu_seconds() - t0;
    std::vector<std::uint8_t> back(data.size());
    std::string why;
    t0 = cpu_seconds();
    const bool ok = lmzip::context_mixing_decode(payload.data(), payload.size(), back.data(), back.size(), &why) &&
                    back == data;
    const double dec = cpu_seconds() - t0;
    all_ok = all_ok && ok;
    std::string name = argv[a];
    if (name.size() > 40) name = name.substr(name.size() - 40);
    std::printf("%-40s %10zu %10zu %7.4f %9.1f %9.1f %s\n", name.c_str(), data.size(), payload.size(),
                8.0 * payload.size() / data.size(), data.size() / 1000.0 / std::max(enc, 1e-9),
                data.size() / 1000.0 / std::max(dec, 1e-9), ok ? "ok" : ("FAIL " + why).c_str());
    std::fflush(stdout);
    total_in += data.size();
    total_out += payload.size();
    total_enc += enc;
    total_dec += dec;
  }
  std::printf("%-40s %10llu %10llu %7.4f %9.1f %9.1f %s\n", "TOTAL", static_cast<unsigned long long>(total_in),
              static_cast<unsigned long long>(total_out), total_in ? 8.0 * total_out / total_in : 0.0,
              total_in / 1000.0 / std::max(total_enc, 1e-9), total_in / 1000.0 / std::max(total_dec, 1e-9),
              all_ok ? "ok" : "FAIL");
  return all_ok ? 0 : 1;
}

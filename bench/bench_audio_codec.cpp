// bench_audio_codec FILE.wav...: codes the samples of canonical 44-byte-header
// PCM WAV files (RIFF, "fmt " of 16 bytes, "data") with src/media/audio_codec,
// checks the round trip, and prints per file raw sample bytes, payload bytes,
// ratio, encode and decode MB/s (of sample bytes, per CPU second of this
// process), then a total line. Exit status 1 on a failed round trip.
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "media/audio_codec.h"

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::uint32_t le(const std::uint8_t* p, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint32_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_audio_codec FILE.wav...\n");
    return 2;
  }
  std::uint64_t total_raw = 0, total_payload = 0;
  double total_enc = 0, total_dec = 0;
  int status = 0;
  std::printf("%-28s %10s %10s %7s %9s %9s\n", "file", "raw", "payload", "ratio", "enc MB/s", "dec MB/s");
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (file.size() < 44 || std::memcmp(file.data(), "RIFF", 4) != 0 || std::memcmp(file.data() + 8, "WAVE", 4) != 0 ||
        std::memcmp(file.data() + 12, "fmt ", 4) != 0 || le(file.data() + 16, 4) != 16 ||
        std::memcmp(file.data() + 36, "data", 4) != 0 || le(file.data() + 20, 2) != 1) {
      std::fprintf(stderr, "%s: not a canonical 44-byte-header PCM WAV\n", argv[i]);
      status = 1;
      continue;
    }
    lmzip::AudioLayout layout;
    layout.channels = le(file.data() + 22, 2);
    const std::uint32_t bits = le(file.data() + 34, 2);
    layout.bytes_per_sample = bits / 8;
    layout.is_unsigned = bits == 8;
    const std::uint64_t data_size = std::min<std::uint64_t>(le(file.data() + 40, 4), file.size() - 44);
    const std::uint64_t frame_bytes = std::uint64_t{layout.channels} * layout.bytes_per_sample;
    layout.frames = frame_bytes ? data_size / frame_bytes : 0;
    if (!lmzip::valid_audio_layout(layout)) {
      std::fprintf(stderr, "%s: unsupported layout\n", argv[i]);
      status = 1;
      continue;
    }
    const std::uint8_t* samples = file.data() + 44;
    const std::size_t raw = lmzip::audio_bytes(layout);
    double t0 = cpu_seconds();
    const std::vector<std::uint8_t> payload = lmzip::encode_audio(layout, samples);
    double t1 = cpu_seconds();
    std::vector<std::uint8_t> back(raw);
    std::string why;
    const bool ok = lmzip::decode_audio(payload.data(), payload.size(), back.data(), back.size(), &why);
    double t2 = cpu_seconds();
    const bool same = ok && std::memcmp(back.data(), samples, raw) == 0;
    if (!same) {
      std::fprintf(stderr, "%s: ROUND TRIP FAILED %s\n", argv[i], why.c_str());
      status = 1;
    }
    std::string name = argv[i];
    const std::size_t slash = name.find_last_of('/');
    if (slash != std::string::npos) name = name.substr(slash + 1);
    std::printf("%-28s %10zu %10zu %6.2f%% %9.3f %9.3f%s\n", name.c_str(), raw, payload.size(),
                100.0 * static_cast<double>(payload.size()) / static_cast<double>(raw), raw / 1e6 / (t1 - t0),
                raw / 1e6 / (t2 - t1), same ? "" : "  FAILED");
    total_raw += raw;
    total_payload += payload.size();
    total_enc += t1 - t0;
    total_dec += t2 - t1;
  }
  std::printf("%-28s %10llu %10llu %6.2f%% %9.3f %9.3f\n", "TOTAL", static_cast<unsigned long long>(total_raw),
              static_cast<unsigned long long>(total_payload),
              total_raw ? 100.0 * static_cast<double>(total_payload) / static_cast<double>(total_raw) : 0.0,
              total_raw / 1e6 / total_enc, total_raw / 1e6 / total_dec);
  return status;
}

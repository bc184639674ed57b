// bench_image_codec FILE.ppm|pgm...: codes each image's pixels with
// src/media/image_codec, checks the round trip, and prints raw bytes, payload
// bytes, ratio and encode/decode speed (MB/s of image bytes, process CPU
// time), then a total line. Reads binary PPM (P6) and PGM (P5) with maxval
// 255 or 65535 and a minimal header (no comments).
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "media/image_codec.h"

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool read_pnm(const char* path, lmzip::ImageLayout* layout, std::vector<std::uint8_t>* pixels) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // Header: magic, width, height, maxval, each followed by one whitespace byte.
  std::size_t pos = 0;
  auto token = [&]() {
    while (pos < bytes.size() && std::isspace(bytes[pos])) ++pos;
    std::string t;
    while (pos < bytes.size() && !std::isspace(bytes[pos])) t.push_back(static_cast<char>(bytes[pos++]));
    return t;
  };
  const std::string magic = token();
  if (magic != "P5" && magic != "P6") return false;
  const unsigned long w = std::stoul(token()), h = std::stoul(token()), maxval = std::stoul(token());
  ++pos;  // the single whitespace byte after maxval
  layout->width = static_cast<std::uint32_t>(w);
  layout->height = static_cast<std::uint32_t>(h);
  layout->channels = magic == "P6" ? 3 : 1;
  layout->bytes_per_sample = maxval > 255 ? 2 : 1;
  layout->big_endian = true;
  layout->row_bytes = layout->width * layout->channels * layout->bytes_per_sample;
  const std::uint64_t n = lmzip::image_bytes(*layout);
  if (pos + n > bytes.size()) return false;
  pixels->assign(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                 bytes.begin() + static_cast<std::ptrdiff_t>(pos + n));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_image_codec FILE.ppm|pgm...\n");
    return 2;
  }
  std::uint64_t total_raw = 0, total_payload = 0;
  double total_enc = 0, total_dec = 0;
  int status = 0;
  std::printf("%-40s %10s %10s %7s %9s %9s\n", "file", "raw", "payload", "ratio", "enc MB/s", "dec MB/s");
  for (int i = 1; i < argc; ++i) {
    lmzip::ImageLayout layout;
    std::vector<std::uint8_t> pixels;
    if (!read_pnm(argv[i], &layout, &pixels)) {
      std::fprintf(stderr, "%s: not a binary PPM/PGM\n", argv[i]);
      status = 1;
      continue;
    }
    double t0 = cpu_seconds();
    const std::vector<std::uint8_t> payload = lmzip::encode_image(layout, pixels.data());
    const double enc = cpu_seconds() - t0;
    std::vector<std::uint8_t> back(pixels.size());
    std::string why;
    t0 = cpu_seconds();
    const bool ok = lmzip::decode_image(payload.data(), payload.size(), back.data(), back.size(), &why);
    const double dec = cpu_seconds() - t0;
    if (!ok || back != pixels) {
      std::fprintf(stderr, "%s: ROUND TRIP FAILED %s\n", argv[i], why.c_str());
      status = 1;
    }
    const char* name = std::strrchr(argv[i], '/');
    name = name ? name + 1 : argv[i];
    const double mb = static_cast<double>(pixels.size()) / 1e6;
    std::printf("%-40s %10zu %10zu %7.4f %9.2f %9.2f\n", name, pixels.size(), payload.size(),
                static_cast<double>(payload.size()) / static_cast<double>(pixels.size()), mb / enc, mb / dec);
    total_raw += pixels.size();
    total_payload += payload.size();
    total_enc += enc;
    total_dec += dec;
  }
  const double mb = static_cast<double>(total_raw) / 1e6;
  std::printf("%-40s %10llu %10llu %7.4f %9.2f %9.2f\n", "TOTAL", static_cast<unsigned long long>(total_raw),
              static_cast<unsigned long long>(total_payload),
              static_cast<double>(total_payload) / static_cast<double>(total_raw), mb / total_enc, mb / total_dec);
  return status;
}

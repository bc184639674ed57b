// Deflate streams made by zlib, for the tests of deflate recompression.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace lmzip::testing {

// zlib's deflate of in[0, size): window_bits 15 (zlib), -15 (raw) or 31 (gzip).
inline std::vector<std::uint8_t> deflated(const std::uint8_t* in, std::size_t size, int level, int window_bits,
                                          int mem_level = 8, int strategy = Z_DEFAULT_STRATEGY) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, mem_level, strategy) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::vector<std::uint8_t> out(deflateBound(&z, size) + 64);
  z.next_in = const_cast<std::uint8_t*>(in);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

// A zip local file header (APPNOTE 4.3.7) of a deflated entry named "a.txt",
// then its raw deflate data.
inline std::vector<std::uint8_t> zip_entry(const std::vector<std::uint8_t>& raw) {
  std::vector<std::uint8_t> h = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0};
  h.resize(26, 0);
  h.insert(h.end(), {5, 0, 0, 0, 'a', '.', 't', 'x', 't'});
  h.insert(h.end(), raw.begin(), raw.end());
  return h;
}

}  // namespace lmzip::testing

#include "coder/lzma2_coder.h"

#include <lzma.h>

#include <algorithm>
#include <stdexcept>

namespace lmzip {
namespace {

// The one filter of a chunk's stream, as xz -9e sets it up, with the chunk's dictionary.
struct Lzma2Filter {
  lzma_options_lzma options{};
  lzma_filter chain[2];

  explicit Lzma2Filter(std::size_t size) {
    if (lzma_lzma_preset(&options, 9 | LZMA_PRESET_EXTREME)) throw std::logic_error("liblzma: no preset 9e");
    options.dict_size = lzma2_dict_size(size);
    chain[0] = {LZMA_FILTER_LZMA2, &options};
    chain[1] = {LZMA_VLI_UNKNOWN, nullptr};
  }
};

// Frees the coder's state whichever way a call returns.
struct Stream {
  lzma_stream s = LZMA_STREAM_INIT;
  ~Stream() { lzma_end(&s); }
};

bool fail(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return false;
}

}  // namespace

std::uint32_t lzma2_dict_size(std::size_t size) {
  std::uint32_t dict = LZMA_DICT_SIZE_MIN;
  while (dict < size && dict < kLzma2MaxBytes) dict *= 2;
  return dict;
}

std::uint64_t lzma2_encoder_bytes(std::size_t size) {
  Lzma2Filter filter(size);
  return lzma_raw_encoder_memusage(filter.chain);
}

std::uint64_t lzma2_decoder_bytes(std::size_t size) {
  Lzma2Filter filter(size);
  return lzma_raw_decoder_memusage(filter.chain);
}

std::vector<std::uint8_t> lzma2_encode(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > kLzma2MaxBytes) throw std::invalid_argument("lzma2_encode: size outside 1 to 16 MiB");
  Lzma2Filter filter(size);
  Stream stream;
  if (lzma_raw_encoder(&stream.s, filter.chain) != LZMA_OK) throw std::bad_alloc();
  // Room for one byte less than the input: a stream that fills it is not worth keeping.
  std::vector<std::uint8_t> out(size - 1);
  stream.s.next_in = data;
  stream.s.avail_in = size;
  stream.s.next_out = out.data();
  stream.s.avail_out = out.size();
  while (true) {
    const lzma_ret ret = lzma_code(&stream.s, LZMA_FINISH);
    if (ret == LZMA_STREAM_END) break;
    if (ret == LZMA_MEM_ERROR) throw std::bad_alloc();
    if (ret != LZMA_OK || stream.s.avail_out == 0) return {};  // LZMA_BUF_ERROR: out is full
  }
  out.resize(stream.s.total_out);
  return out;
}

bool lzma2_decode(const std::uint8_t* payload, std::size_t payload_size, std::uint8_t* out, std::size_t original_size,
                  std::string* why) {
  if (original_size == 0 || original_size > kLzma2MaxBytes)
    throw std::invalid_argument("lzma2_decode: size outside 1 to 16 MiB");
  Lzma2Filter filter(original_size);
  Stream stream;
  if (lzma_raw_decoder(&stream.s, filter.chain) != LZMA_OK) throw std::bad_alloc();
  stream.s.next_in = payload;
  stream.s.avail_in = payload_size;
  stream.s.next_out = out;
  stream.s.avail_out = original_size;
  // Once out is full, one more byte of room tells a stream that ends there
  // from one that goes on.
  std::uint8_t beyond = 0;
  while (true) {
    if (stream.s.avail_out == 0 && stream.s.total_out == original_size) {
      stream.s.next_out = &beyond;
      stream.s.avail_out = 1;
    }
    const lzma_ret ret = lzma_code(&stream.s, LZMA_FINISH);
    if (stream.s.total_out > original_size) return fail(why, "its LZMA2 stream decodes to more bytes than declared");
    if (ret == LZMA_STREAM_END) break;
    if (ret == LZMA_MEM_ERROR) throw std::bad_alloc();
    if (ret == LZMA_DATA_ERROR) return fail(why, "its LZMA2 stream is corrupt");
    if (ret != LZMA_OK) return fail(why, "its LZMA2 stream ends early (truncated)");  // LZMA_BUF_ERROR
  }
  if (stream.s.total_out < original_size) return fail(why, "its LZMA2 stream decodes to fewer bytes than declared");
  if (stream.s.avail_in != 0) return fail(why, "bytes follow the end of its LZMA2 stream");
  return true;
}

}  // namespace lmzip

// Raw LZMA2 (liblzma, one LZMA2 filter, no .xz container) for the payloads of
// lzma2 chunks (docs/format.md "LZMA2 chunks"). The encoder works as xz -9e;
// its dictionary size follows from the chunk's size alone, so the decoder
// rebuilds it from the chunk entry (the other LZMA2 properties are in the
// stream).
// Depends on the standard library and liblzma.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

// The largest chunk this coder takes (the container's chunk limit).
constexpr std::size_t kLzma2MaxBytes = std::size_t{16} << 20;

// The dictionary for a chunk of `size` bytes: size rounded up to a power of
// two, at least 4 KiB (LZMA2's smallest), at most kLzma2MaxBytes.
std::uint32_t lzma2_dict_size(std::size_t size);

// Memory the encoder and the decoder of a chunk of `size` bytes allocate (liblzma's figures).
std::uint64_t lzma2_encoder_bytes(std::size_t size);
std::uint64_t lzma2_decoder_bytes(std::size_t size);

// The LZMA2 stream of data[0, size), 1 <= size <= kLzma2MaxBytes; empty when
// it would not be smaller than `size` (the chunk is then stored).
std::vector<std::uint8_t> lzma2_encode(const std::uint8_t* data, std::size_t size);

// Decodes payload into out[0, original_size) (1 <= original_size <=
// kLzma2MaxBytes). True only if the payload is one LZMA2 stream that decodes
// to exactly original_size bytes and ends at the payload's last byte;
// otherwise false, with the reason in *why when given.
bool lzma2_decode(const std::uint8_t* payload, std::size_t payload_size, std::uint8_t* out, std::size_t original_size,
                  std::string* why = nullptr);

}  // namespace lmzip

// CRC-32 (the ISO-HDLC polynomial used by gzip and zlib). Checks frames.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lmzip {

// Chainable: crc32(b, nb, crc32(a, na)) == crc32(a+b). crc32("123456789") == 0xCBF43926.
std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0);

}  // namespace lmzip

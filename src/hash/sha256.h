// SHA-256 (FIPS 180-4). Names models by their content.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lmzip {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  Sha256Digest finish();  // The object must not be updated afterwards.

 private:
  void compress_block(const std::uint8_t* block);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_;
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

Sha256Digest sha256(const void* data, std::size_t size);
std::string to_hex(const std::uint8_t* data, std::size_t size);
inline std::string to_hex(const Sha256Digest& d) { return to_hex(d.data(), d.size()); }
// The digest whose to_hex() is `hex` (either case); false for anything but 64 hex digits.
bool digest_from_hex(std::string_view hex, Sha256Digest* digest);

}  // namespace lmzip

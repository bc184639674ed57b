#include "media/media_detect.h"

#include <algorithm>
#include <cstring>

namespace lmzip {

namespace {

constexpr std::uint64_t kMaxRegionBytes = std::uint64_t{16} << 20;  // the container's chunk limit

std::uint32_t le16(const std::uint8_t* p) { return p[0] | (std::uint32_t{p[1]} << 8); }
std::uint32_t le32(const std::uint8_t* p) { return le16(p) | (le16(p + 2) << 16); }
std::uint32_t be16(const std::uint8_t* p) { return (std::uint32_t{p[0]} << 8) | p[1]; }
std::uint32_t be32(const std::uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }

// Sets a region's height or sample frames to `count`.
void set_units(MediaRegion& r, std::uint64_t count) {
  if (r.kind == MediaKind::Image) r.image.height = static_cast<std::uint32_t>(count);
  else r.audio.frames = count;
}

// What a region of `declared` units of `unit` bytes from `base.offset` leaves
// for the next buffer when this one ends first.
void note_carry(MediaCarry* carry, const MediaRegion& base, std::size_t size, std::uint64_t unit,
                std::uint64_t declared) {
  if (carry == nullptr) return;
  const std::uint64_t here = (size - base.offset) / unit;
  if (declared <= here) return;
  const std::uint64_t cut = (size - base.offset) % unit;  // bytes of a unit the buffer cuts
  carry->layout = base;
  carry->unit = unit;
  carry->units_left = declared - here - (cut > 0);
  carry->skip = cut > 0 ? static_cast<std::size_t>(unit - cut) : 0;
}

// Appends the rows (or sample frames) of `unit` bytes each that the buffer
// holds from `base.offset`, at most `units` of them, as regions of at most
// 16 MiB, and notes in `carry` what runs past the buffer. Returns the end of
// the last region, or base.offset when nothing was added.
std::size_t add_regions(std::vector<MediaRegion>& out, const MediaRegion& base, std::size_t size, std::uint64_t unit,
                        std::uint64_t units, MediaCarry* carry) {
  const std::size_t offset = base.offset;
  if (unit == 0 || unit > kMaxRegionBytes || offset >= size) return offset;
  note_carry(carry, base, size, unit, units);
  units = std::min<std::uint64_t>(units, (size - offset) / unit);
  if (units * unit < kMinMediaRegionBytes) return offset;
  const std::uint64_t per_region = kMaxRegionBytes / unit;
  std::size_t at = offset;
  for (std::uint64_t done = 0; done < units;) {
    const std::uint64_t count = std::min(per_region, units - done);
    if (count * unit < kMinMediaRegionBytes) break;  // a short tail stays with the bytes after it
    MediaRegion r = base;
    r.offset = at;
    r.size = static_cast<std::size_t>(count * unit);
    set_units(r, count);
    out.push_back(r);
    at += r.size;
    done += count;
  }
  return at;
}

bool is_space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Netpbm header "P5"/"P6", whitespace and comments, width, height, maxval, one
// whitespace byte. Returns the end of the regions added, or `at` if none.
std::size_t parse_pnm(const std::uint8_t* data, std::size_t size, std::size_t at, std::vector<MediaRegion>& out,
                      MediaCarry* carry) {
  const std::uint32_t channels = data[at + 1] == '5' ? 1 : 3;
  std::size_t p = at + 2;
  std::uint64_t values[3];
  for (std::uint64_t& v : values) {
    // At least one whitespace byte (or comment) before each number.
    if (p >= size || !(is_space(data[p]) || data[p] == '#')) return at;
    while (p < size && (is_space(data[p]) || data[p] == '#')) {
      if (data[p] == '#')
        while (p < size && data[p] != '\n' && data[p] != '\r') ++p;
      else
        ++p;
    }
    v = 0;
    std::size_t digits = 0;
    while (p < size && data[p] >= '0' && data[p] <= '9' && digits < 8) v = v * 10 + (data[p++] - '0'), ++digits;
    if (digits == 0 || (p < size && data[p] >= '0' && data[p] <= '9')) return at;
  }
  if (p >= size || !is_space(data[p])) return at;
  ++p;
  const std::uint64_t width = values[0], height = values[1], maxval = values[2];
  if (width == 0 || height == 0 || width > (1u << 16) || maxval == 0 || maxval > 65535) return at;
  MediaRegion base;
  base.kind = MediaKind::Image;
  base.offset = p;
  base.format = channels == 1 ? "PGM" : "PPM";
  base.image.width = static_cast<std::uint32_t>(width);
  base.image.channels = channels;
  base.image.bytes_per_sample = maxval < 256 ? 1 : 2;
  base.image.big_endian = true;
  base.image.row_bytes = static_cast<std::uint32_t>(width * channels * base.image.bytes_per_sample);
  return add_regions(out, base, size, base.image.row_bytes, height, carry);
}

// BMP: "BM", the file header, a BITMAPINFOHEADER or later (40, 52, 56, 108 or
// 124 bytes), one plane, 24 or 32 bits per pixel, BI_RGB (or BI_BITFIELDS at
// 32 bits). Rows are padded to 4 bytes; bottom-up rows are an image too.
std::size_t parse_bmp(const std::uint8_t* data, std::size_t size, std::size_t at, std::vector<MediaRegion>& out,
                      MediaCarry* carry) {
  if (size - at < 54) return at;
  const std::uint8_t* h = data + at;
  const std::uint32_t data_offset = le32(h + 10), info_size = le32(h + 14);
  if (info_size != 40 && info_size != 52 && info_size != 56 && info_size != 108 && info_size != 124) return at;
  const auto width = static_cast<std::int32_t>(le32(h + 18));
  const auto height = static_cast<std::int32_t>(le32(h + 22));
  const std::uint32_t planes = le16(h + 26), bits = le16(h + 28), compression = le32(h + 30);
  if (planes != 1 || (bits != 24 && bits != 32)) return at;
  if (!(compression == 0 || (compression == 3 && bits == 32))) return at;
  if (width <= 0 || width > (1 << 16) || height == 0 || height < -(1 << 16) || height > (1 << 16)) return at;
  if (data_offset < 14 + info_size || data_offset > size - at) return at;
  const std::uint32_t channels = bits / 8;
  MediaRegion base;
  base.kind = MediaKind::Image;
  base.offset = at + data_offset;
  base.format = "BMP";
  base.image.width = static_cast<std::uint32_t>(width);
  base.image.channels = channels;
  base.image.bytes_per_sample = 1;
  base.image.row_bytes = (static_cast<std::uint32_t>(width) * channels + 3) & ~3u;
  const std::uint64_t rows = static_cast<std::uint64_t>(height < 0 ? -static_cast<std::int64_t>(height) : height);
  return add_regions(out, base, size, base.image.row_bytes, rows, carry);
}

MediaRegion audio_base(std::size_t offset, std::uint32_t channels, std::uint32_t bits, bool big_endian,
                       bool is_unsigned, const char* format) {
  MediaRegion base;
  base.kind = MediaKind::Audio;
  base.offset = offset;
  base.format = format;
  base.audio.channels = channels;
  base.audio.bytes_per_sample = bits / 8;
  base.audio.big_endian = big_endian;
  base.audio.is_unsigned = is_unsigned;
  return base;
}

bool audio_format_ok(std::uint32_t channels, std::uint32_t bits) {
  return channels >= 1 && channels <= 8 && (bits == 8 || bits == 16 || bits == 24);
}

// RIFF/WAVE: the "fmt " chunk (PCM, or WAVE_FORMAT_EXTENSIBLE whose subformat
// is PCM) before the "data" chunk; other chunks are skipped.
std::size_t parse_wav(const std::uint8_t* data, std::size_t size, std::size_t at, std::vector<MediaRegion>& out,
                      MediaCarry* carry) {
  if (size - at < 12 || std::memcmp(data + at + 8, "WAVE", 4) != 0) return at;
  std::size_t p = at + 12;
  std::uint32_t channels = 0, bits = 0;
  bool have_format = false;
  for (int chunks = 0; chunks < 64 && size - p >= 8; ++chunks) {
    const std::uint8_t* c = data + p;
    const std::uint64_t length = le32(c + 4);
    if (std::memcmp(c, "fmt ", 4) == 0) {
      if (length < 16 || size - p - 8 < 16) return at;
      const std::uint32_t tag = le16(c + 8);
      channels = le16(c + 10);
      bits = le16(c + 22);
      const std::uint32_t block_align = le16(c + 20);
      bool pcm = tag == 1;
      if (tag == 0xFFFE && length >= 40 && size - p - 8 >= 40) pcm = le16(c + 8 + 24) == 1;  // subformat GUID's first field
      if (!pcm || !audio_format_ok(channels, bits) || block_align != channels * bits / 8) return at;
      have_format = true;
    } else if (std::memcmp(c, "data", 4) == 0) {
      if (!have_format) return at;
      const std::uint64_t unit = std::uint64_t{channels} * (bits / 8);
      const MediaRegion base = audio_base(p + 8, channels, bits, false, bits == 8, "WAV");
      return add_regions(out, base, size, unit, length / unit, carry);
    }
    if (length > size - p - 8) return at;
    p += 8 + length + (length & 1);
  }
  return at;
}

// FORM/AIFF or AIFC: "COMM" (channels, frames, bits; AIFC's compression
// "NONE" or "sowt", little-endian) before "SSND" (offset, block size, data).
std::size_t parse_aiff(const std::uint8_t* data, std::size_t size, std::size_t at, std::vector<MediaRegion>& out,
                      MediaCarry* carry) {
  if (size - at < 12) return at;
  const bool aifc = std::memcmp(data + at + 8, "AIFC", 4) == 0;
  if (!aifc && std::memcmp(data + at + 8, "AIFF", 4) != 0) return at;
  std::size_t p = at + 12;
  std::uint32_t channels = 0, bits = 0;
  std::uint64_t frames = 0;
  bool have_format = false, little = false;
  for (int chunks = 0; chunks < 64 && size - p >= 8; ++chunks) {
    const std::uint8_t* c = data + p;
    const std::uint64_t length = be32(c + 4);
    if (std::memcmp(c, "COMM", 4) == 0) {
      if (length < 18 || size - p - 8 < 18) return at;
      channels = be16(c + 8);
      frames = be32(c + 10);
      bits = be16(c + 14);
      if (aifc) {
        if (length < 22 || size - p - 8 < 22) return at;
        if (std::memcmp(c + 26, "sowt", 4) == 0) little = true;
        else if (std::memcmp(c + 26, "NONE", 4) != 0) return at;
      }
      if (!audio_format_ok(channels, bits)) return at;
      have_format = true;
    } else if (std::memcmp(c, "SSND", 4) == 0) {
      if (!have_format || size - p - 8 < 8) return at;
      const std::uint64_t offset = be32(c + 8);
      if (offset > size - p - 16) return at;
      const std::uint64_t unit = std::uint64_t{channels} * (bits / 8);
      // 8-bit AIFF samples are signed; sowt swaps multi-byte samples.
      const MediaRegion base =
          audio_base(p + 16 + static_cast<std::size_t>(offset), channels, bits, !little, false, "AIFF");
      return add_regions(out, base, size, unit, frames, carry);
    }
    if (length > size - p - 8) return at;
    p += 8 + length + (length & 1);
  }
  return at;
}

}  // namespace

std::vector<MediaRegion> find_media(const std::uint8_t* data, std::size_t size, MediaCarry* carry) {
  std::vector<MediaRegion> out;
  std::size_t p = 0;
  if (carry != nullptr) {
    const MediaCarry from = *carry;
    *carry = MediaCarry{};
    if (from.units_left > 0 && from.skip < size) {
      MediaRegion base = from.layout;
      base.offset = from.skip;
      p = add_regions(out, base, size, from.unit, from.units_left, carry);
    } else if (from.units_left > 0) {
      // A buffer shorter than the cut unit: the rest goes on to the next.
      *carry = from;
      carry->skip -= size;
      return out;
    }
  }
  while (size >= 4 && p + 4 <= size) {
    std::size_t end = p;
    const std::uint8_t c = data[p];
    if (c == 'P' && (data[p + 1] == '5' || data[p + 1] == '6')) end = parse_pnm(data, size, p, out, carry);
    else if (c == 'B' && data[p + 1] == 'M') end = parse_bmp(data, size, p, out, carry);
    else if (c == 'R' && std::memcmp(data + p, "RIFF", 4) == 0) end = parse_wav(data, size, p, out, carry);
    else if (c == 'F' && std::memcmp(data + p, "FORM", 4) == 0) end = parse_aiff(data, size, p, out, carry);
    p = end > p ? end : p + 1;
  }
  return out;
}

}  // namespace lmzip

// Finds uncompressed images and PCM audio in a buffer by their headers, so
// that their pixels and samples can be coded by the image and audio codecs
// (docs/format.md "Image and audio chunks"). Only the samples are a region:
// headers, padding after the data and anything else stay with the bytes
// around them. A header whose data runs past the buffer's end gives a region
// of the whole rows or sample frames that the buffer holds.
// Depends on the standard library and media/image_codec.h, media/audio_codec.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "media/audio_codec.h"
#include "media/image_codec.h"

namespace lmzip {

enum class MediaKind : std::uint8_t { Image, Audio };

struct MediaRegion {
  MediaKind kind = MediaKind::Image;
  std::size_t offset = 0;  // of the first pixel or sample byte in the buffer
  std::size_t size = 0;    // bytes: image_bytes(image) or audio_bytes(audio)
  ImageLayout image;       // kind Image
  AudioLayout audio;       // kind Audio
  const char* format = "";  // "PGM", "PPM", "BMP", "WAV", "AIFF": for messages
};

// Regions smaller than this are left to the bytes around them: a codec's
// payload header and its cold start cost more than they would save.
constexpr std::size_t kMinMediaRegionBytes = 1024;

// An image or recording whose data ran past the end of one buffer, to be
// continued at the start of the next (frames are read one after another).
struct MediaCarry {
  MediaRegion layout;            // its layout (height or frames to be set)
  std::uint64_t units_left = 0;  // rows or sample frames still to come; 0: nothing carried
  std::uint64_t unit = 0;        // bytes of one row or sample frame
  std::size_t skip = 0;          // bytes of a row or sample frame cut by the buffer's end
};

// The regions of data[0, size) in order, not overlapping, each at least
// kMinMediaRegionBytes and at most 16 MiB (a longer one ends there, at a
// whole row or sample frame). Formats: binary PGM/PPM (P5, P6; 8 and 16 bits),
// uncompressed BMP (24 and 32 bits per pixel), WAV (PCM and
// WAVE_FORMAT_EXTENSIBLE PCM; 8, 16, 24 bits) and AIFF/AIFC ("NONE" and
// "sowt"; 8, 16, 24 bits). Integer parsing only; never reads outside data.
// With `carry`, a region carried from the buffer before comes first (its
// rows or frames after the `skip` bytes) and *carry is set to what this
// buffer's last region leaves for the next one (units_left 0 if nothing).
std::vector<MediaRegion> find_media(const std::uint8_t* data, std::size_t size, MediaCarry* carry = nullptr);

}  // namespace lmzip

#include "engine/levels.h"

#include <algorithm>
#include <string>

#include "adapt/frame_models.h"
#include "lmzip/lmzip.h"
#include "model/model_library.h"

namespace lmzip {

const LevelSettings& level_settings(int level) {
  if (level == 0) level = kDefaultLevel;
  if (level < kMinLevel || level > kMaxLevel)
    throw Error(Error::Kind::Usage, "level " + std::to_string(level) + " is outside " + std::to_string(kMinLevel) +
                                        ".." + std::to_string(kMaxLevel));
  return kLevels[level - kMinLevel];
}

std::size_t largest_chunk_bytes(const LevelSettings& level, std::size_t model_chunk_bytes) {
  return std::max(level.largest_chunk_bytes, model_chunk_bytes);
}

ChunkMode level_mode(const LevelSettings& level, std::uint32_t network_width) {
  return can_adapt_output(network_width) ? level.mode : level.mode_without_adaptation;
}

std::vector<int> levels_writing(ChunkMode mode) {
  std::vector<int> out;
  // Every level codes a frame with LZMA2 or the image and audio codecs where
  // that is smaller than the model.
  // Network context mixing: the levels that mix the binary model in.
  for (const LevelSettings& l : kLevels)
    if (recipe(mode).coder == ChunkCoder::NetworkContextMixing ? l.mixes_binary_model
                                                               : l.mode == mode || l.mode_without_adaptation == mode ||
                                                                     (recipe(mode).coder != ChunkCoder::Network &&
                                                                      recipe(mode).coder != ChunkCoder::Stored))
      out.push_back(l.level);
  return out;
}

std::vector<LevelInfo> levels() {
  std::vector<LevelInfo> out;
  for (const LevelSettings& l : kLevels)
    out.push_back({l.level, std::string(l.model_file), std::string(l.binary_model_file), l.largest_chunk_bytes,
                   l.smallest_chunk_bytes, std::string(l.summary)});
  return out;
}

int default_level() { return kDefaultLevel; }

ModelInfo resolve_model(const CompressOptions& options) {
  const LevelSettings& level = level_settings(options.level);
  return model_info(find_model_file(options.models, std::string(level.model_file),
                                    std::string(kFallbackModelFile), "level " + std::to_string(level.level)));
}

std::string binary_model_path(const CompressOptions& options) {
  const LevelSettings& level = level_settings(options.level);
  if (!options.models.explicit_path.empty() || level.binary_model_file.empty()) return {};
  try {
    return find_model_file(options.models, std::string(level.binary_model_file), "",
                           "level " + std::to_string(level.level) + "'s binary frames");
  } catch (const Error& e) {
    if (e.kind() != Error::Kind::ModelMissing) throw;
    return {};  // optional: the level's model codes those frames
  }
}

}  // namespace lmzip

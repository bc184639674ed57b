// compress()/decompress() through the public API, and the chunk coder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "adapt/frame_models.h"
#include "engine/chunk_coder.h"
#include "engine/chunker.h"
#include "engine/frame_choice.h"
#include "engine/levels.h"
#include "format/container.h"
#include "hash/crc32.h"
#include "lmzip/lmzip.h"
#include "model/backend.h"
#include "model/model_file.h"
#include "model/model_library.h"
#include "model/network.h"
#include "model/random_model.h"
#include "tokenize/tokenizer.h"
#include "../common/small_models.h"
#include "../common/zlib_streams.h"

namespace lmzip {
namespace {

namespace fs = std::filesystem;

using testing::tiny_config;

// A fixed-seed model in a temp dir, shared by the tests.
const std::string& random_model_path() {
  static const std::string path = [] {
    const fs::path dir = fs::temp_directory_path() / ("lmzip-engine-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string p = (dir / "tiny.lmzm").string();
    random_model(tiny_config(), 3).save(p);
    return p;
  }();
  return path;
}

// The shipped default model: a model that really compresses, so coded chunks are exercised.
std::string default_model_path() { return std::string(LMZIP_SOURCE_DIR) + "/models/default.lmzm"; }

std::string compress_with(const std::string& model, const std::string& data, int threads = 1, Stats* stats = nullptr) {
  CompressOptions o;
  o.models.explicit_path = model;
  o.threads = threads;
  std::istringstream in(data);
  std::ostringstream out;
  Stats s = compress(in, out, o);
  if (stats) *stats = s;
  return out.str();
}

std::string decompress_with(const std::string& model, const std::string& data, int threads = 1) {
  DecompressOptions o;
  o.models.explicit_path = model;
  o.threads = threads;
  std::istringstream in(data);
  std::ostringstream out;
  decompress(in, out, o);
  return out.str();
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string text(std::size_t n) {
  const std::string base =
      "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
      "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n";
  std::string s;
  while (s.size() < n) s += base;
  s.resize(n);
  return s;
}

TEST(Chunker, PlansCoverTheFrameExactly) {
  for (std::size_t size : {0ul, 1ul, 8191ul, 8192ul, 100000ul, 16777216ul}) {
    const auto spans = plan_chunks(size, 65536, 8192, kFrameStreams);
    std::size_t offset = 0;
    for (const auto& s : spans) {
      EXPECT_EQ(s.offset, offset);
      EXPECT_LE(s.size, 65536u);
      offset += s.size;
    }
    EXPECT_EQ(offset, size);
    EXPECT_LE(spans.size(), kFrameStreams);
  }
  EXPECT_EQ(plan_chunks(100000, 65536, 8192, kFrameStreams).size(), 12u);  // short input: more, smaller chunks
  EXPECT_EQ(plan_chunks(100000, 65536, 32768, kFrameStreams).size(), 3u);
  EXPECT_EQ(plan_chunks(100000, 4096, 32768, kFrameStreams).size(), 25u);  // chunk_bytes wins
}

// Level 9 cuts a frame into a few long chunks, the others into many short ones.
TEST(Chunker, BestLevelCodesFewLongChunks) {
  const std::size_t size = 2473400;  // world192.txt
  auto chunks = [&](int level) {
    const LevelSettings& l = level_settings(level);
    return plan_chunks(size, largest_chunk_bytes(l, 65536), l.smallest_chunk_bytes, kFrameStreams).size();
  };
  EXPECT_EQ(chunks(9), 4u);
  EXPECT_EQ(chunks(8), 150u);
  EXPECT_EQ(chunks(5), 150u);
  EXPECT_EQ(chunks(1), 256u);
  EXPECT_EQ(largest_chunk_bytes(level_settings(9), 4u << 20), 4u << 20);  // a model's larger chunks stay
  EXPECT_EQ(largest_chunk_bytes(level_settings(5), 65536), 65536u);
}

TEST(Chunker, RandomBytesAreNotWorthModelling) {
  const std::string r = random_bytes(65536, 11), t = text(65536), zeros(65536, '\0');
  auto worth = [](const std::string& s) {
    return worth_modelling(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_FALSE(worth(r));
  EXPECT_TRUE(worth(t));
  EXPECT_TRUE(worth(zeros));
  EXPECT_TRUE(worth(""));
  EXPECT_TRUE(worth("a"));
}

// Every coded chunk mode of the recipe table: chunks of random symbols
// and chunks that repeat themselves and each other (where the match models
// predict), of many lengths, in two frames.
TEST(ChunkCoder, RoundTripsCodedChunksOfDifferentLengths) {
  const ModelFile m = random_model(tiny_config(), 5);
  auto predictor = make_cpu_predictor(m, 4);  // fewer slots than chunks: slots are reused
  const auto tokenizer = Tokenizer::bytes();
  for (const ChunkRecipe& recipe : kChunkRecipes) {
    if (recipe.coder != ChunkCoder::Network) continue;
    const ChunkMode mode = recipe.mode;
    std::vector<CodedChunk> chunks(12);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      std::string s = random_bytes(i * 37, static_cast<unsigned>(i));
      if (i % 2) s = s.substr(0, i * 5) + s.substr(0, i * 5) + s.substr(i, i * 9) + s.substr(0, i * 5);
      chunks[i].symbols.assign(s.begin(), s.end());
      for (auto& v : chunks[i].symbols) v &= 0xFF;
      chunks[i].mode = mode;
      chunks[i].frame = i < 7 ? 0 : 1;
    }
    encode_chunks(*predictor, chunks, 0, chunks.size());
    std::vector<DecodeTask> tasks;
    for (auto& c : chunks)
      tasks.push_back({c.payload.data(), c.payload.size(), static_cast<std::uint32_t>(c.symbols.size()),
                       static_cast<std::uint32_t>(c.symbols.size()), c.mode, c.frame, {}});
    decode_chunks(*predictor, *tokenizer, tasks, 0, tasks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      std::string expected;
      tokenizer->decode(chunks[i].symbols.data(), chunks[i].symbols.size(), expected);
      EXPECT_EQ(tasks[i].bytes, expected) << i << " " << recipe.name;
      // The coder stays within a few bytes of the model's ideal length.
      EXPECT_LE(chunks[i].payload.size() * 8.0, chunks[i].ideal_bits + 80) << i;
    }
  }
}

// A repeated passage costs almost nothing the second time with matches on;
// the random model alone cannot know it.
TEST(ChunkCoder, MatchesShrinkRepeats) {
  const ModelFile m = random_model(tiny_config(), 5);
  auto predictor = make_cpu_predictor(m, 2);
  const std::string part = random_bytes(3000, 9);
  std::vector<CodedChunk> chunks(2);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string s = part + part + part;
    chunks[i].symbols.assign(s.begin(), s.end());
    for (auto& v : chunks[i].symbols) v &= 0xFF;
    chunks[i].mode = i == 1 ? ChunkMode::CodedMatched : ChunkMode::Coded;
  }
  encode_chunks(*predictor, chunks, 0, chunks.size());
  // The first copy costs what it costs without matches; the two repeats almost nothing.
  EXPECT_LT(chunks[1].payload.size(), chunks[0].payload.size() / 3 + 100);
}

// Frame matches: a chunk finds a passage that another chunk of its frame
// coded earlier in the lock-step, and decodes; in a frame of its own it cannot.
TEST(ChunkCoder, FrameMatchesFindOtherChunksOfTheFrame) {
  const ModelFile m = random_model(tiny_config(), 5);
  auto predictor = make_cpu_predictor(m, 4);
  const auto tokenizer = Tokenizer::bytes();
  const std::string passage = random_bytes(3000, 9);
  const std::vector<std::string> texts = {passage + random_bytes(3000, 10), random_bytes(3000, 11) + passage,
                                          random_bytes(3000, 11) + passage};
  std::vector<CodedChunk> chunks(3);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    chunks[i].symbols.assign(texts[i].begin(), texts[i].end());
    for (auto& v : chunks[i].symbols) v &= 0xFF;
    chunks[i].frame = i < 2 ? 0 : 1;
  }
  encode_chunks(*predictor, chunks, 0, chunks.size());
  EXPECT_LT(chunks[1].payload.size(), chunks[2].payload.size() * 6 / 10);
  std::vector<DecodeTask> tasks;
  for (auto& c : chunks)
    tasks.push_back({c.payload.data(), c.payload.size(), static_cast<std::uint32_t>(c.symbols.size()),
                     static_cast<std::uint32_t>(c.symbols.size()), c.mode, c.frame, {}});
  decode_chunks(*predictor, *tokenizer, tasks, 0, tasks.size());
  for (std::size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(tasks[i].bytes, texts[i]) << i;
}

// A hostile chunk declaring a million symbols over a 4-byte payload stops
// the whole run once its range decoder runs past the payload: not a million
// steps later, and without stepping the valid chunk beside it to its end.
TEST(ChunkCoder, CorruptChunkStopsTheRunAtTheEndOfItsPayload) {
  const ModelFile m = random_model(tiny_config(), 5);
  auto predictor = make_cpu_predictor(m, 2);
  const auto tokenizer = Tokenizer::bytes();
  std::vector<CodedChunk> valid(1);
  const std::string text = random_bytes(3000, 12);
  valid[0].symbols.assign(text.begin(), text.end());
  for (auto& v : valid[0].symbols) v &= 0xFF;
  valid[0].mode = ChunkMode::CodedFrameMatched;
  encode_chunks(*predictor, valid, 0, 1);
  const std::uint8_t payload[] = {0x9c, 0x41, 0xe7, 0x05};
  std::vector<DecodeTask> tasks;
  tasks.push_back({valid[0].payload.data(), valid[0].payload.size(), 3000, 3000, ChunkMode::CodedFrameMatched, 0, {}});
  tasks.push_back({payload, sizeof payload, 1000000, 1000000, ChunkMode::CodedFrameMatched, 1, {}});
  try {
    decode_chunks(*predictor, *tokenizer, tasks, 0, tasks.size());
    FAIL() << "decoded a chunk past its payload";
  } catch (const ChunkDecodeFailure& failure) {
    EXPECT_EQ(failure.task, 1u);
    EXPECT_STREQ(failure.what(), "its data ends before its symbols do");
  }
  EXPECT_LT(tasks[1].bytes.size(), 100u);
  EXPECT_LT(tasks[0].bytes.size(), 100u);
}

// A chunk whose symbols make fewer bytes than its entry declares fails at its
// last symbol, not after the frame.
TEST(ChunkCoder, ChunkOfTheWrongSizeFailsAtItsLastSymbol) {
  const ModelFile m = random_model(tiny_config(), 5);
  auto predictor = make_cpu_predictor(m, 2);
  const auto tokenizer = Tokenizer::bytes();
  std::vector<CodedChunk> valid(1);
  const std::string text = std::string(2000, 'a');
  valid[0].symbols.assign(text.begin(), text.end());
  valid[0].mode = ChunkMode::CodedFrameMatched;
  encode_chunks(*predictor, valid, 0, 1);
  std::vector<DecodeTask> tasks;
  tasks.push_back({valid[0].payload.data(), valid[0].payload.size(), 2000, 2001, ChunkMode::CodedFrameMatched, 0, {}});
  EXPECT_THROW(decode_chunks(*predictor, *tokenizer, tasks, 0, tasks.size()), ChunkDecodeFailure);
}

TEST(Engine, RoundTripsAwkwardInputs) {
  std::string all256;
  for (int i = 0; i < 256; ++i) all256 += static_cast<char>(i);
  const std::vector<std::string> inputs = {"", "x", all256, random_bytes(100000, 1), std::string(50000, 'a'),
                                           "\xff\xfe\xc3\x28\xe2\x82" + text(5000), std::string(3000, '\0')};
  for (const auto& in : inputs) EXPECT_EQ(decompress_with(random_model_path(), compress_with(random_model_path(), in)), in);
}

TEST(Engine, RandomDataGrowsByLessThanHalfAPercent) {
  const std::string in = random_bytes(300000, 2);
  Stats s;
  const std::string z = compress_with(random_model_path(), in, 1, &s);
  EXPECT_LT(z.size(), in.size() * 1.005);
  EXPECT_EQ(s.stored_chunks, s.chunks);
}

// A chunk the model cannot shrink is stored, and the decoder never sees its
// symbols: the other chunks of its frame must not have used them. Bytes at
// random from 223 values pass worth_modelling() but do not shrink; without
// control bytes the frame looks like text, which the model codes (not LZMA2).
TEST(Engine, FrameMatchesSkipChunksThatEndUpStored) {
  std::mt19937 rng(4);
  std::string noise(16384, 'a');
  for (auto& c : noise) {
    c = static_cast<char>(0x20 + rng() % 223);
    if (c == 0x7F) c = static_cast<char>(0xFF);
  }
  const std::string in = text(16384) + noise + text(16384) + noise.substr(100) + noise.substr(0, 100);
  Stats s;
  const std::string z = compress_with(random_model_path(), in, 2, &s);
  EXPECT_GT(s.stored_chunks, 0u);
  EXPECT_LT(s.stored_chunks, s.chunks);
  EXPECT_EQ(decompress_with(random_model_path(), z), in);
}

TEST(Engine, ThreadCountDoesNotChangeTheOutput) {
  const std::string model = fs::exists(default_model_path()) ? default_model_path() : random_model_path();
  const std::string in = text(40000) + random_bytes(20000, 3);
  EXPECT_EQ(compress_with(model, in, 1), compress_with(model, in, 2));
}

// A stream of one frame of `parts`: part i < chunks.size() coded as chunks[i]
// (its mode and payload, which must be smaller than the part), the rest stored.
std::string one_frame_stream(const Sha256Digest& model_id, const std::vector<std::string>& parts,
                             const std::vector<CodedChunk>& chunks) {
  std::ostringstream out;
  StreamHeader header;
  header.model_id = model_id;
  ContainerWriter writer(out, header);
  Frame frame;
  std::string original;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    original += parts[i];
    const auto size = static_cast<std::uint32_t>(parts[i].size());
    if (i < chunks.size()) {
      EXPECT_LT(chunks[i].payload.size(), size) << i;
      frame.chunks.push_back({chunks[i].mode, size, static_cast<std::uint32_t>(chunks[i].symbols.size()),
                              static_cast<std::uint32_t>(chunks[i].payload.size())});
      frame.payloads.push_back(chunks[i].payload);
    } else {
      frame.chunks.push_back({ChunkMode::Stored, size, 0, size});
      frame.payloads.emplace_back(parts[i].begin(), parts[i].end());
    }
  }
  frame.original_crc = crc32(original.data(), original.size());
  writer.write_frame(frame);
  writer.finish();
  return out.str();
}

// The format allows up to 4,096 chunks a frame, and a frame's chunks that
// share it start together: a frame of more coded chunks than a CPU batch's
// 256 streams decodes (the chunks share a passage, so the frame matches
// between them carry the coding, and a late start would change it).
TEST(Engine, DecodesAFrameOfMoreChunksThanABatch) {
  Sha256Digest id{};
  const ModelFile m = ModelFile::load(random_model_path(), &id);
  const std::size_t count = kFrameStreams + 44;
  auto predictor = make_cpu_predictor(m, static_cast<std::uint32_t>(count));
  const std::string passage = random_bytes(400, 21);
  std::vector<std::string> parts(count);
  std::vector<CodedChunk> chunks(count);
  for (std::size_t i = 0; i < count; ++i) {
    parts[i] = random_bytes(60, static_cast<unsigned>(i)) + passage + passage;
    chunks[i].symbols.assign(parts[i].begin(), parts[i].end());
    for (auto& v : chunks[i].symbols) v &= 0xFF;
    chunks[i].mode = ChunkMode::CodedFrameMatched;
  }
  encode_chunks(*predictor, chunks, 0, chunks.size());
  std::string original;
  for (const auto& p : parts) original += p;
  const std::string z = one_frame_stream(id, parts, chunks);
  for (int threads : {1, 2}) EXPECT_EQ(decompress_with(random_model_path(), z, threads), original) << threads;
}

// Streams from before the match model (chunk mode 1) still decode: a frame of
// chunks coded by the network alone, beside matched and stored ones.
TEST(Engine, DecodesChunksCodedWithoutMatches) {
  Sha256Digest id{};
  const ModelFile m = ModelFile::load(default_model_path(), &id);
  auto predictor = make_cpu_predictor(m, 4);
  const auto tokenizer = Tokenizer::from_pieces(m.pieces, m.piece_scores);
  const std::vector<std::string> parts = {text(3000), text(2000) + text(2000), random_bytes(500, 8)};
  std::vector<CodedChunk> chunks(2);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    tokenizer->encode(reinterpret_cast<const std::uint8_t*>(parts[i].data()), parts[i].size(), chunks[i].symbols);
    chunks[i].mode = i == 1 ? ChunkMode::CodedMatched : ChunkMode::Coded;
  }
  encode_chunks(*predictor, chunks, 0, chunks.size());
  std::string original;
  for (const auto& p : parts) original += p;
  const std::string z = one_frame_stream(id, parts, chunks);
  EXPECT_EQ(decompress_with(default_model_path(), z), original);
  // The same payload read with the other mode is a different stream: caught.
  std::string swapped = z;
  const std::size_t first_mode = 42 + 1 + 4;  // header, block type, chunk count
  ASSERT_EQ(swapped[first_mode], 1);
  swapped[first_mode] = 2;
  EXPECT_THROW(decompress_with(default_model_path(), swapped), Error);
}

// The coded chunks' modes of a stream.
std::vector<ChunkMode> coded_modes(const std::string& stream) {
  std::istringstream in(stream);
  ContainerReader reader(in);
  StreamHeader header;
  std::vector<ChunkMode> modes;
  while (reader.next_stream(header)) {
    Frame frame;
    while (reader.next_frame(frame))
      for (const ChunkEntry& e : frame.chunks)
        if (e.mode != ChunkMode::Stored) modes.push_back(e.mode);
  }
  return modes;
}

// Each level writes its row's mode of the level table; a network wider than
// the output adaptation allows, the row's mode without adaptation.
TEST(Engine, LevelsPickTheirChunkModes) {
  const fs::path dir = fs::path(random_model_path()).parent_path();
  ModelConfig wide = tiny_config();
  wide.width = 520;
  const std::string wide_path = (dir / "wide.lmzm").string();
  random_model(wide, 6).save(wide_path);
  const std::string in = text(20000);
  auto modes_at = [&](const std::string& model, int level) {
    CompressOptions o;
    o.models.explicit_path = model;
    o.threads = 2;
    o.level = level;
    std::istringstream is(in);
    std::ostringstream os;
    compress(is, os, o);
    EXPECT_EQ(decompress_with(model, os.str()), in) << model << " -" << level;
    const auto modes = coded_modes(os.str());
    EXPECT_FALSE(modes.empty());
    return modes.empty() ? ChunkMode::Stored : modes.front();
  };
  for (const LevelSettings& level : kLevels) {
    EXPECT_EQ(modes_at(random_model_path(), level.level), level.mode) << level.level;
    EXPECT_TRUE(is_network_coded(level.mode_without_adaptation) && !recipe(level.mode_without_adaptation).adapts_output);
  }
  EXPECT_EQ(modes_at(wide_path, 2), level_settings(2).mode_without_adaptation);
  EXPECT_EQ(modes_at(wide_path, 5), level_settings(5).mode_without_adaptation);
  // The table's meaning, once: -1 has no adaptation, the rest adapt.
  EXPECT_FALSE(recipe(level_settings(1).mode).adapts_output);
  for (int l = 2; l <= kMaxLevel; ++l) EXPECT_TRUE(recipe(level_settings(l).mode).adapts_output) << l;
}

TEST(Engine, LevelsOutsideTheTableAreUsageErrors) {
  for (int level : {-1, kMinLevel - 1 == 0 ? 10 : kMinLevel - 1, kMaxLevel + 1}) {
    CompressOptions o;
    o.models.explicit_path = random_model_path();
    o.level = level;
    std::istringstream is("abc");
    std::ostringstream os;
    try {
      compress(is, os, o);
      ADD_FAILURE() << "level " << level << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::Usage) << level;
      EXPECT_NE(std::string(e.what()).find("outside 1..9"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(&level_settings(0), &level_settings(kDefaultLevel));
  EXPECT_EQ(default_level(), kDefaultLevel);
}

// -v's report: which device ran which frames.
TEST(Engine, StatsSayWhichDeviceRanTheFrames) {
  CompressOptions o;
  o.models.explicit_path = random_model_path();
  o.device = "cpu";
  o.level = 1;
  o.chunk_bytes = 1024;  // frames of 256 KiB
  const std::string in = text(600000);
  std::istringstream is(in);
  std::ostringstream os;
  const Stats s = compress(is, os, o);
  ASSERT_EQ(s.frames, 3u);
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].first_frame, 0u);
  EXPECT_EQ(s.devices[0].frames, 3u);
  EXPECT_EQ(s.devices[0].device, "CPU");
  EXPECT_TRUE(s.notices.empty());
  DecompressOptions d;
  d.models.explicit_path = random_model_path();
  d.device = "cpu";
  std::istringstream zs(os.str());
  std::ostringstream out;
  const Stats back = decompress(zs, out, d);
  EXPECT_EQ(out.str(), in);
  ASSERT_EQ(back.devices.size(), 1u);
  EXPECT_EQ(back.devices[0].frames, 3u);
}

// `lmzip -l -v`'s numbers: each frame where it is, with its sizes and its
// chunk modes, and the levels that write them; the frames add up to their stream.
TEST(Engine, ListGivesEveryFrame) {
  CompressOptions o;
  o.models.explicit_path = random_model_path();
  o.level = 1;
  o.chunk_bytes = 1024;  // frames of 256 KiB
  std::istringstream is(text(600000));
  std::ostringstream os;
  compress(is, os, o);
  const std::string first = os.str();
  std::istringstream in(first + compress_with(random_model_path(), random_bytes(2000, 5)));
  const std::vector<StreamInfo> streams = list(in);
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].offset, 0u);
  EXPECT_EQ(streams[1].offset, first.size());
  for (const StreamInfo& s : streams) {
    ASSERT_EQ(s.frame_details.size(), s.frames);
    std::uint64_t at = s.frame_details.front().offset, original = 0, chunks = 0, stored = 0;
    EXPECT_GT(at, s.offset);  // after the stream's header
    for (const FrameInfo& f : s.frame_details) {
      EXPECT_EQ(f.offset, at);
      at += f.compressed_bytes;
      original += f.original_bytes;
      chunks += f.chunks;
      stored += f.stored_chunks;
      std::uint64_t mode_chunks = 0;
      for (const ChunkModeCount& m : f.modes) mode_chunks += m.chunks;
      EXPECT_EQ(mode_chunks, f.chunks);
    }
    EXPECT_LT(at, s.offset + s.compressed_bytes);  // the end block follows
    EXPECT_EQ(original, s.original_bytes);
    EXPECT_EQ(chunks, s.chunks);
    EXPECT_EQ(stored, s.stored_chunks);
  }
  ASSERT_EQ(streams[0].frames, 3u);
  const std::vector<ChunkModeCount>& modes = streams[0].frame_details[0].modes;
  ASSERT_EQ(modes.size(), 1u);
  EXPECT_EQ(modes[0].mode, recipe(level_settings(1).mode).name);
  EXPECT_EQ(modes[0].chunks, 256u);
  EXPECT_EQ(modes[0].levels, levels_writing(level_settings(1).mode));
  // Random bytes are stored, which any level may do.
  const std::vector<ChunkModeCount>& stored = streams[1].frame_details.at(0).modes;
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].mode, recipe(ChunkMode::Stored).name);
  EXPECT_TRUE(stored[0].levels.empty());
}

TEST(Engine, LevelsWritingAModeComeFromTheLevelTable) {
  for (const LevelSettings& level : kLevels) {
    for (ChunkMode mode : {level.mode, level.mode_without_adaptation}) {
      const std::vector<int> levels = levels_writing(mode);
      EXPECT_TRUE(std::is_sorted(levels.begin(), levels.end()));
      EXPECT_NE(std::find(levels.begin(), levels.end(), level.level), levels.end()) << level.level;
      for (int l : levels) {
        const LevelSettings& writer = level_settings(l);
        EXPECT_TRUE(writer.mode == mode || writer.mode_without_adaptation == mode) << l;
      }
    }
  }
  EXPECT_TRUE(levels_writing(ChunkMode::Stored).empty());
  // Chosen per frame at every level.
  for (ChunkMode mode : {ChunkMode::Lzma2, ChunkMode::Image, ChunkMode::Audio})
    EXPECT_EQ(levels_writing(mode).size(), std::size(kLevels));
}

TEST(Engine, ConcatenatedStreamsDecodeToConcatenatedInputs) {
  const std::string a = text(3000), b = random_bytes(2000, 4);
  const std::string z = compress_with(random_model_path(), a) + compress_with(random_model_path(), b);
  EXPECT_EQ(decompress_with(random_model_path(), z), a + b);
}

TEST(Engine, MissingModelIsAClearError) {
  ModelFile other = random_model(tiny_config(), 99);
  const std::string path = random_model_path() + ".other.lmzm";
  other.save(path);
  const std::string z = compress_with(path, text(20000));
  fs::remove(path);
  try {
    DecompressOptions o;
    o.models.explicit_path = random_model_path();  // a different model
    o.models.program_path = "/nonexistent/lmzip";
    std::istringstream in(z);
    std::ostringstream out;
    decompress(in, out, o);
    // All chunks stored: no model needed, and the output is right.
    EXPECT_EQ(out.str(), text(20000));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::ModelMissing);
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
  }
}

// Decodes z with no model to be found: frames the model took no part in need none.
Stats decompress_without_model(const std::string& z, std::string* out) {
  DecompressOptions o;
  o.models.explicit_path = "/nonexistent/model.lmzm";
  std::istringstream in(z);
  std::ostringstream os;
  const Stats d = decompress(in, os, o);
  *out = os.str();
  return d;
}

// A 3 KB random block repeated: LZMA2 finds the repeats, the tiny test
// model cannot, so the frame is LZMA2's and the model never runs.
std::string repeated_random_block() {
  const std::string block = random_bytes(3000, 11);
  std::string s;
  while (s.size() < 200000) s += block;
  return s;
}

TEST(Engine, FramesLzma2CodesBetterAreLzma2Chunks) {
  const std::string in = repeated_random_block();
  Stats s;
  const std::string z = compress_with(random_model_path(), in, 2, &s);
  EXPECT_LT(z.size(), 5000u);
  EXPECT_EQ(s.frames, 1u);
  EXPECT_EQ(s.lzma2_frames, 1u);
  EXPECT_EQ(s.symbols, 0u);
  EXPECT_TRUE(s.devices.empty()) << "the model ran a frame LZMA2 codes in far under a bit a byte";
  std::istringstream listed(z);
  const std::vector<StreamInfo> streams = list(listed);
  ASSERT_EQ(streams.size(), 1u);
  const FrameInfo& frame = streams[0].frame_details.at(0);
  ASSERT_EQ(frame.modes.size(), 1u);
  EXPECT_EQ(frame.modes[0].mode, "lzma2");
  EXPECT_EQ(frame.stored_chunks, 0u);
  // A stream of LZMA2 and stored chunks decodes without its model.
  std::string out;
  const Stats d = decompress_without_model(z, &out);
  EXPECT_EQ(out, in);
  EXPECT_EQ(d.lzma2_frames, 1u);
}

// A grey image of a smooth gradient with noise and a WAV of a gliding tone
// with noise: content the image and audio codecs shrink and that nothing
// repeats exactly in (where LZMA2 would win).
std::uint32_t next_noise(std::uint32_t& seed) {
  seed = seed * 1664525u + 1013904223u;
  return seed >> 24;
}

std::string noisy_pgm(std::uint32_t width, std::uint32_t height) {
  std::string s = "P5\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
  std::uint32_t seed = 1;
  for (std::uint32_t y = 0; y < height; ++y)
    for (std::uint32_t x = 0; x < width; ++x)
      s.push_back(static_cast<char>((x / 3 + y / 2 + (x * y) / 97 + next_noise(seed) % 5) & 255));
  return s;
}

std::string noisy_wav(std::uint32_t frames) {
  auto le = [](std::string& s, std::uint32_t v, int n) {
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  };
  std::string s = "RIFF";
  le(s, 36 + frames * 2, 4);
  s += "WAVEfmt ";
  le(s, 16, 4);
  le(s, 1, 2);
  le(s, 1, 2);
  le(s, 16000, 4);
  le(s, 32000, 4);
  le(s, 2, 2);
  le(s, 16, 2);
  s += "data";
  le(s, frames * 2, 4);
  std::uint32_t seed = 2, phase = 0;
  for (std::uint32_t i = 0; i < frames; ++i) {
    phase += 300 + i / 50;  // a rising triangle wave
    const int tri = static_cast<int>((phase >> 4) % 2048);
    const int v = (tri < 1024 ? tri : 2047 - tri) * 12 - 6000 + static_cast<int>(next_noise(seed) % 64);
    le(s, static_cast<std::uint32_t>(v), 2);
  }
  return s;
}

// An image or a recording, with a little text around it, is coded by its
// codec alone: no model runs, and it decodes without the model.
TEST(Engine, ImagesAndAudioAreCodedByTheirCodecs) {
  for (const std::string& media : {noisy_pgm(128, 64), noisy_wav(6000)}) {
    const std::string in = "header text\n" + media + "trailing text\n";
    Stats s;
    const std::string z = compress_with(random_model_path(), in, 2, &s);
    EXPECT_LT(z.size(), in.size() * 3 / 4);
    EXPECT_EQ(s.media_frames, 1u);
    EXPECT_EQ(s.lzma2_frames, 0u);
    EXPECT_TRUE(s.devices.empty()) << "the model ran on a frame of pixels or samples";
    std::istringstream listed(z);
    const std::vector<StreamInfo> streams = list(listed);
    const FrameInfo& frame = streams.at(0).frame_details.at(0);
    bool codec_chunk = false;
    for (const ChunkModeCount& m : frame.modes) codec_chunk = codec_chunk || m.mode == "image" || m.mode == "audio";
    EXPECT_TRUE(codec_chunk);
    std::string out;
    const Stats d = decompress_without_model(z, &out);
    EXPECT_EQ(out, in);
    EXPECT_EQ(d.media_frames, 1u);
  }
}

// An image longer than a frame is coded as pixels in every frame it spans.
TEST(Engine, AnImageLongerThanAFrameIsPixelsInEveryFrame) {
  const std::string in = noisy_pgm(600, 1100);  // 660 KB: three frames of 256 KiB
  CompressOptions o;
  o.models.explicit_path = random_model_path();
  o.chunk_bytes = 1024;
  std::istringstream is(in);
  std::ostringstream os;
  const Stats s = compress(is, os, o);
  EXPECT_EQ(s.frames, 3u);
  EXPECT_EQ(s.media_frames, 3u);
  EXPECT_EQ(decompress_with(random_model_path(), os.str()), in);
}

// Headers that lie (an image of noise, a recording cut short, a header with
// nothing after it) still round-trip, whichever coder takes them.
TEST(Engine, MediaHeadersThatLieStillRoundTrip) {
  const std::vector<std::string> inputs = {
      "P5\n100 100\n255\n" + random_bytes(10000, 3),
      noisy_wav(6000).substr(0, 5001),
      "P6 1000 1000 255\n" + text(3000),
      text(5000) + noisy_pgm(64, 64) + text(20000) + noisy_wav(3000) + random_bytes(999, 4),
  };
  for (const std::string& in : inputs) {
    const std::string z = compress_with(random_model_path(), in, 2);
    EXPECT_EQ(decompress_with(random_model_path(), z), in);
  }
}

// Records of counters and noisy fields: context mixing (record and order-n
// contexts) codes them well below LZMA2, and the text model does not run.
TEST(Engine, BinaryRecordsAreContextMixingChunks) {
  std::string in;
  std::uint32_t seed = 9;
  for (std::uint32_t i = 0; i < 4000; ++i) {
    const std::uint32_t fields[4] = {i, 1000 + i * 3, 70000 + next_noise(seed) % 7, next_noise(seed) % 3};
    for (std::uint32_t f : fields)
      for (int b = 0; b < 4; ++b) in.push_back(static_cast<char>(f >> (8 * b)));
  }
  Stats s;
  const std::string z = compress_with(random_model_path(), in, 2, &s);
  EXPECT_EQ(s.context_mixing_frames, 1u);
  EXPECT_EQ(s.symbols, 0u);
  EXPECT_TRUE(s.devices.empty()) << "the text model ran on records";
  const Frame lzma2 = byte_coded_frame(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), 1, ChunkMode::Lzma2);
  EXPECT_LT(z.size(), frame_cost(lzma2));
  std::string out;
  const Stats d = decompress_without_model(z, &out);
  EXPECT_EQ(out, in);
  EXPECT_EQ(d.context_mixing_frames, 1u);
}

// A zip-like file: entries of text deflated by zlib (raw, as zip holds them,
// and zlib streams, as a PDF does) among headers and binary bytes. Neither
// LZMA2 nor context mixing sees into deflate data; inflated, context mixing
// codes the text, and decoding deflates it again byte for byte.
TEST(Engine, DeflateStreamsAreInflatedForContextMixing) {
  std::string in = random_bytes(500, 21);
  for (int entry = 0; entry < 6; ++entry) {
    std::string t;
    for (int i = 0; t.size() < 12000; ++i)
      t += "entry " + std::to_string(entry) + " line " + std::to_string(i * i % 9973) + " value " +
           std::to_string(i * 7 % 101) + "\n";
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(t.data());
    const std::vector<std::uint8_t> stream =
        entry % 2 ? testing::zip_entry(testing::deflated(bytes, t.size(), 6, -15))
                  : testing::deflated(bytes, t.size(), 9, 15);
    in.append(stream.begin(), stream.end());
    in += random_bytes(40, entry);
  }
  Stats s;
  const std::string z = compress_with(random_model_path(), in, 2, &s);
  EXPECT_EQ(s.context_mixing_frames, 1u);
  const Frame lzma2 = byte_coded_frame(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), 1, ChunkMode::Lzma2);
  EXPECT_LT(z.size() * 2, frame_cost(lzma2));
  std::istringstream listed(z);
  const std::vector<StreamInfo> info = list(listed);
  ASSERT_EQ(info.size(), 1u);
  ASSERT_EQ(info[0].frame_details.size(), 1u);
  ASSERT_EQ(info[0].frame_details[0].modes.size(), 1u);
  EXPECT_EQ(info[0].frame_details[0].modes[0].mode, "inflated-context-mix");
  std::string out;
  const Stats d = decompress_without_model(z, &out);
  EXPECT_EQ(out, in);
  EXPECT_EQ(d.context_mixing_frames, 1u);
}

// The fast levels inflate a frame to at most 4 times its size (levels.h): a
// stream that inflates 10 times stays deflate at -1 and is inflated at -5.
TEST(Engine, FastLevelsInflateAFrameToFourTimesItsSize) {
  std::string t;
  for (int i = 0; t.size() < 60000; ++i) t += "log line " + std::to_string(i % 50) + ": all is well\n";
  const std::vector<std::uint8_t> stream =
      testing::deflated(reinterpret_cast<const std::uint8_t*>(t.data()), t.size(), 9, 15);
  ASSERT_GT(t.size(), 4 * stream.size());
  const std::string in = random_bytes(300, 5) + std::string(stream.begin(), stream.end());
  for (const int level : {1, 5}) {
    CompressOptions o;
    o.models.explicit_path = random_model_path();
    o.level = level;
    std::istringstream from(in);
    std::ostringstream z;
    compress(from, z, o);
    std::istringstream listed(z.str());
    const std::vector<StreamInfo> info = list(listed);
    ASSERT_EQ(info.size(), 1u);
    bool inflated = false;
    for (const auto& m : info[0].frame_details[0].modes) inflated = inflated || m.mode == "inflated-context-mix";
    EXPECT_EQ(inflated, level == 5) << "level " << level;
    std::string out;
    decompress_without_model(z.str(), &out);
    EXPECT_EQ(out, in);
  }
}

// Random bytes with a small deflate stream: LZMA2 saves nothing, and the
// stream is too small a share of the frame to run context mixing over it all.
TEST(Engine, ASmallDeflateStreamInRandomBytesIsNotInflated) {
  std::string t;
  for (int i = 0; t.size() < 20000; ++i) t += "line " + std::to_string(i * i % 9973) + "\n";
  const std::vector<std::uint8_t> stream =
      testing::deflated(reinterpret_cast<const std::uint8_t*>(t.data()), t.size(), 9, 15);
  std::string in = random_bytes(100000, 31);
  in.insert(50000, std::string(stream.begin(), stream.end()));
  ASSERT_LT(stream.size() * kInflateCompressedFrameShare, in.size());
  Stats s;
  const std::string z = compress_with(random_model_path(), in, 2, &s);
  EXPECT_EQ(s.context_mixing_frames, 0u);
  EXPECT_EQ(decompress_with(random_model_path(), z), in);
}

// Frames of more than 16 MiB are cut into LZMA2 chunks of at most 16 MiB.
TEST(Engine, Lzma2CutsLargeFramesIntoChunksOfAtMost16MiB) {
  std::string in;
  const std::string block = repeated_random_block();
  while (in.size() < (17u << 20)) in += block;
  CompressOptions o;
  o.models.explicit_path = random_model_path();
  o.chunk_bytes = 1u << 20;  // frames of 64 MiB
  // A quarter of 1 GiB holds LZMA2's encoder of a 16 MiB chunk, not context
  // mixing's, which would take a minute here to lose to LZMA2.
  o.memory_limit = std::uint64_t{1} << 30;
  std::istringstream is(in);
  std::ostringstream os;
  const Stats s = compress(is, os, o);
  EXPECT_EQ(s.lzma2_frames, 1u);
  EXPECT_EQ(s.context_mixing_frames, 0u);
  EXPECT_EQ(s.chunks, 2u);
  EXPECT_EQ(decompress_with(random_model_path(), os.str()), in);
}

// Frames that look like text go to the model without trying LZMA2; frames
// that do not are coded both ways, and the model keeps those it codes smaller.
TEST(Engine, TextTheModelCodesBetterGetsNetworkChunks) {
  Stats s;
  const std::string repeated_text = text(200000);  // LZMA2 would win: text is not offered to it
  EXPECT_EQ(decompress_with(random_model_path(), compress_with(random_model_path(), repeated_text, 2, &s)),
            repeated_text);
  EXPECT_EQ(s.lzma2_frames, 0u);
  if (!fs::exists(default_model_path())) GTEST_SKIP() << "no shipped default model";
  // English prose with a control byte a line: both coders run, the model wins.
  std::ifstream doc(std::string(LMZIP_SOURCE_DIR) + "/docs/format.md");
  std::string prose((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
  prose.resize(12000);
  for (std::size_t i = 0; i < prose.size(); ++i)
    if (prose[i] == '\n') prose[i] = '\x01';
  ASSERT_FALSE(looks_like_text(reinterpret_cast<const std::uint8_t*>(prose.data()), prose.size()));
  const Frame lzma2 =
      byte_coded_frame(reinterpret_cast<const std::uint8_t*>(prose.data()), prose.size(), 1, ChunkMode::Lzma2);
  const std::string z = compress_with(default_model_path(), prose, 2, &s);
  EXPECT_EQ(s.lzma2_frames, 0u);
  EXPECT_LT(s.stored_chunks, s.chunks);
  EXPECT_LT(z.size(), frame_cost(lzma2));
  EXPECT_EQ(decompress_with(default_model_path(), z), prose);
}

// An LZMA2 chunk that does not decode names itself and its frame.
TEST(Engine, CorruptLzma2ChunkIsCorrupt) {
  const std::string z = compress_with(random_model_path(), repeated_random_block());
  const std::size_t payload = 42 + 1 + 4 + 13 + 4;  // header, frame type, count, one entry, table CRC
  std::string bad = z;
  bad[payload] = 0x03;  // no LZMA2 control byte
  try {
    decompress_with(random_model_path(), bad);
    ADD_FAILURE() << "a corrupt LZMA2 chunk decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::Corrupt);
    EXPECT_NE(std::string(e.what()).find("chunk 0 of the frame at byte offset 42 (its data at byte offset 64) does "
                                         "not decode: its LZMA2 stream is corrupt"),
              std::string::npos)
        << e.what();
  }
  // Cut short inside the payload: the container reports the truncation first.
  EXPECT_THROW(decompress_with(random_model_path(), z.substr(0, payload + 10)), Error);
}

// Every single-byte corruption and every truncation of a stream with coded
// chunks: an error, or (for bytes nobody reads, which do not exist in v1) the exact input.
TEST(Engine, CorruptionIsDetected) {
  if (!fs::exists(default_model_path())) GTEST_SKIP() << "no shipped default model";
  const std::string in = text(1000);  // small: every trial decodes the whole stream
  Stats s;
  const std::string z = compress_with(default_model_path(), in, 1, &s);
  ASSERT_LT(s.stored_chunks, s.chunks) << "the default model should code text";
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bad = z;
    const std::size_t pos = rng() % bad.size();
    bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng() % 255));
    try {
      EXPECT_NE(decompress_with(default_model_path(), bad), in) << "corruption at " << pos << " went unnoticed";
      ADD_FAILURE() << "corruption at " << pos << " decoded without error";
    } catch (const Error&) {
    }
  }
  for (std::size_t len = 0; len < z.size(); len += 1 + len / 4) {
    EXPECT_THROW(decompress_with(default_model_path(), z.substr(0, len)), Error) << len;
  }
}

}  // namespace
}  // namespace lmzip

namespace lmzip {
namespace {

// What a full frame of each shipped level needs, from the parts the engine
// weighs against the limit (model, predictor, frame models, data), fits
// default_memory_limit(): the shipped levels never need -M. Byte tokens are
// the worst case (a symbol a byte).
TEST(MemoryLimit, EveryShippedLevelFitsTheDefault) {
  for (const LevelSettings& level : kLevels) {
    const std::string path = std::string(LMZIP_SOURCE_DIR) + "/models/" + std::string(level.model_file);
    const ModelFile model = ModelFile::load(path);
    const std::uint64_t chunk = largest_chunk_bytes(level, model.config.chunk_bytes);
    const std::uint64_t frame = std::min<std::uint64_t>(chunk * kFrameStreams, kMaxFrameBytes);
    const std::uint64_t chunks = (frame + chunk - 1) / chunk;
    const ChunkMode mode = level_mode(level, model.config.width);
    std::vector<FrameModels::Chunk> setup;
    for (std::uint64_t c = 0; c < chunks; ++c) setup.push_back({0, static_cast<std::uint32_t>(frame / chunks), mode});
    // Compressing: the frame, its symbols (4 bytes each) and payloads;
    // decoding: payloads, the chunks' bytes and the frame's. One thread: more
    // are cut to fit.
    const std::uint64_t need = std::filesystem::file_size(path) + 6 * frame +
                               FrameModels::memory_bytes(setup, model.config.vocab_size, model.config.width) +
                               PredictorFactory::bytes(model, Device::Cpu, 1, kFrameStreams);
    EXPECT_LE(need, default_memory_limit()) << "level " << level.level;
  }
}

// ----------------------------------------------------- a model per frame

// Sets $LMZIP_MODEL_PATH for the scope of the object.
class ModelPathScope {
 public:
  explicit ModelPathScope(const std::string& dirs) {
    if (const char* old = std::getenv("LMZIP_MODEL_PATH")) old_ = old;
    had_old_ = std::getenv("LMZIP_MODEL_PATH") != nullptr;
    ::setenv("LMZIP_MODEL_PATH", dirs.c_str(), 1);
  }
  ~ModelPathScope() {
    if (had_old_)
      ::setenv("LMZIP_MODEL_PATH", old_.c_str(), 1);
    else
      ::unsetenv("LMZIP_MODEL_PATH");
  }

 private:
  std::string old_;
  bool had_old_ = false;
};

// Level 1's model and the binary model, two different random models, each in
// a folder of its own; one_model_dir holds the text model under both names,
// which is how a search path without a binary model behaves (the source
// tree's models/, always searched last, ships one).
struct TwoModels {
  fs::path text_dir, binary_dir, one_model_dir;
  std::string text_id, binary_id;
  TwoModels() {
    const fs::path base = fs::path(random_model_path()).parent_path();
    text_dir = base / "text-models";
    binary_dir = base / "binary-models";
    one_model_dir = base / "one-model";
    fs::create_directories(text_dir);
    fs::create_directories(binary_dir);
    fs::create_directories(one_model_dir);
    const std::string text_path = (text_dir / std::string(level_settings(1).model_file)).string();
    const std::string binary_path = (binary_dir / std::string(level_settings(1).binary_model_file)).string();
    random_model(tiny_config(), 21).save(text_path);
    random_model(tiny_config(), 22).save(binary_path);
    random_model(tiny_config(), 21).save((one_model_dir / std::string(level_settings(1).model_file)).string());
    random_model(tiny_config(), 21).save((one_model_dir / std::string(level_settings(1).binary_model_file)).string());
    text_id = model_info(text_path).id;
    binary_id = model_info(binary_path).id;
  }
  std::string both() const { return text_dir.string() + ":" + binary_dir.string(); }
};

const TwoModels& two_models() {
  static const TwoModels models;
  return models;
}

// Control bytes 0 to 15, each one of four that may follow the byte before
// (a first-order Markov chain): no text, at most 2 bits a byte given the
// byte before, but nearly 4 bits to LZMA2, whose literal coder sees only the
// top 3 bits of the byte before (all zero here) and finds few matches.
std::string markov_control_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  unsigned successors[16][4];
  for (auto& row : successors)
    for (unsigned& next : row) next = rng() % 16;
  std::string s(n, '\0');
  unsigned previous = 0;
  for (auto& c : s) {
    previous = successors[previous][rng() % 4];
    c = static_cast<char>(previous);
  }
  return s;
}

// At level 1 in frames of 256 KiB (chunks of 1 KiB): text, binary bytes, text.
std::string text_binary_text() { return text(256u << 10) + markov_control_bytes(256u << 10, 5) + text(50000); }

std::string compress_at_level_1(const std::string& in, const std::string& explicit_model = "") {
  CompressOptions o;
  o.level = 1;
  o.threads = 2;
  o.chunk_bytes = 1024;
  // Context mixing's tables do not fit a quarter of this, so the models
  // (and LZMA2) code the frames: what these tests are about.
  o.memory_limit = std::uint64_t{200} << 20;
  o.models.explicit_path = explicit_model;
  o.models.program_path = "/nonexistent/lmzip";
  std::istringstream is(in);
  std::ostringstream os;
  compress(is, os, o);
  return os.str();
}

std::string decompress_found(const std::string& z) {
  DecompressOptions o;
  o.models.program_path = "/nonexistent/lmzip";
  std::istringstream is(z);
  std::ostringstream os;
  decompress(is, os, o);
  return os.str();
}

std::vector<FrameInfo> listed_frames(const std::string& z) {
  std::istringstream is(z);
  const std::vector<StreamInfo> streams = list(is);
  EXPECT_EQ(streams.size(), 1u);
  return streams.empty() ? std::vector<FrameInfo>{} : streams[0].frame_details;
}

bool network_coded(const FrameInfo& frame) {
  return std::any_of(frame.modes.begin(), frame.modes.end(),
                     [](const ChunkModeCount& m) { return m.mode != "stored" && m.mode != "lzma2"; });
}

// Decoding z with only `dirs` to search fails naming the model `id`.
void expect_missing_model_named(const std::string& z, const std::string& dirs, const std::string& id) {
  ModelPathScope path(dirs);
  try {
    decompress_found(z);
    ADD_FAILURE() << "decoded without the binary model";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::ModelMissing);
    EXPECT_NE(std::string(e.what()).find(id.substr(0, 16)), std::string::npos) << e.what();
  }
}

// With the level's binary model installed, a frame that does not look like
// text is coded by it, the text frames around it by the level's model.
TEST(ModelPerFrame, BinaryFramesAreCodedByTheBinaryModel) {
  const TwoModels& models = two_models();
  ModelPathScope path(models.both());
  const std::string in = text_binary_text();
  const std::string z = compress_at_level_1(in);
  const std::vector<FrameInfo> frames = listed_frames(z);
  ASSERT_EQ(frames.size(), 3u);
  for (const FrameInfo& f : frames) EXPECT_TRUE(network_coded(f)) << f.offset << ": the model did not code it";
  EXPECT_EQ(frames[0].model_id, models.text_id);
  EXPECT_EQ(frames[1].model_id, models.binary_id);
  EXPECT_EQ(frames[2].model_id, models.text_id);
  std::istringstream is(z);
  EXPECT_EQ(list(is)[0].model_id, models.text_id);  // the header names the level's model
  EXPECT_EQ(decompress_found(z), in);
}

// Without the binary model, or with -m, one model codes every frame: the
// bytes -m of the level's model writes, with no model block.
TEST(ModelPerFrame, WithoutTheBinaryModelOneModelCodesEveryFrame) {
  const TwoModels& models = two_models();
  const std::string in = text_binary_text();
  std::string alone;
  {
    ModelPathScope path(models.one_model_dir.string());
    alone = compress_at_level_1(in);
    for (const FrameInfo& f : listed_frames(alone)) EXPECT_EQ(f.model_id, models.text_id) << f.offset;
    EXPECT_EQ(decompress_found(alone), in);
  }
  ModelPathScope path(models.both());
  const std::string explicit_model =
      compress_at_level_1(in, (models.text_dir / std::string(level_settings(1).model_file)).string());
  EXPECT_EQ(explicit_model, alone);
  for (const FrameInfo& f : listed_frames(explicit_model)) EXPECT_EQ(f.model_id, models.text_id) << f.offset;
}

// A stream whose second model is missing fails naming that model.
TEST(ModelPerFrame, MissingSecondModelIsNamed) {
  const TwoModels& models = two_models();
  std::string z;
  {
    ModelPathScope path(models.both());
    z = compress_at_level_1(text_binary_text());
  }
  expect_missing_model_named(z, models.text_dir.string(), models.binary_id);
}


// ------------------------------------------- the binary network mixed in

// Levels 7 to 9 mix the binary model's network into context mixing (chunk
// mode 14); the frame names that model in a model block.
struct MixingModels {
  fs::path dir, text_only;
  std::string binary_id;
  ModelFile binary = random_model(tiny_config(), 32);
  MixingModels() {
    const fs::path base = fs::path(random_model_path()).parent_path();
    dir = base / "mixing-models";
    text_only = base / "mixing-text-only";
    fs::create_directories(dir);
    fs::create_directories(text_only);
    for (const fs::path& d : {dir, text_only})
      random_model(tiny_config(), 31).save((d / std::string(level_settings(9).model_file)).string());
    const std::string binary_path = (dir / std::string(level_settings(9).binary_model_file)).string();
    binary.save(binary_path);
    binary_id = model_info(binary_path).id;
  }
};

const MixingModels& mixing_models() {
  static const MixingModels models;
  return models;
}

// n bytes that follow what `model` predicts: its most likely next byte three
// times in four, else a byte drawn from its table. Its network codes them
// well and context mixing alone cannot learn them (the next byte depends on
// the whole window), so the encoder keeps the network's coding.
std::string predicted_by(const ModelFile& model, std::size_t n, unsigned seed) {
  NetworkBytePredictions network(model);
  network.reset();
  std::mt19937_64 rng(seed);
  std::string s;
  std::uint32_t freqs[256];
  std::uint32_t symbol = 256;
  while (s.size() < n) {
    network.step(symbol, freqs);
    if (rng() % 4 != 0) {
      symbol = static_cast<std::uint32_t>(std::max_element(freqs, freqs + 256) - freqs);
    } else {
      std::uint64_t total = 0;
      for (std::uint32_t f : freqs) total += f;
      std::uint64_t r = rng() % total;
      symbol = 0;
      while (r >= freqs[symbol]) r -= freqs[symbol++];
    }
    s.push_back(static_cast<char>(symbol));
  }
  return s;
}

std::string compress_at(int level, const std::string& in) {
  CompressOptions o;
  o.level = level;
  o.threads = 2;
  o.models.program_path = "/nonexistent/lmzip";
  std::istringstream is(in);
  std::ostringstream os;
  compress(is, os, o);
  return os.str();
}

bool has_mode(const FrameInfo& frame, const std::string& mode) {
  return std::any_of(frame.modes.begin(), frame.modes.end(), [&](const ChunkModeCount& m) { return m.mode == mode; });
}

TEST(NetworkMixing, LevelsSevenToNineMixTheBinaryNetworkIn) {
  const MixingModels& models = mixing_models();
  ModelPathScope path(models.dir.string());
  const std::string in = predicted_by(models.binary, 60000, 9);
  for (int level : {7, 9}) {
    const std::string z = compress_at(level, in);
    const std::vector<FrameInfo> frames = listed_frames(z);
    ASSERT_EQ(frames.size(), 1u) << level;
    EXPECT_TRUE(has_mode(frames[0], "network-context-mix")) << level;
    EXPECT_EQ(frames[0].model_id, models.binary_id) << level;
    EXPECT_EQ(decompress_found(z), in) << level;
  }
  // Level 5 context-mixes the same frame without it, and names no model.
  const std::string z = compress_at(5, in);
  const std::vector<FrameInfo> frames = listed_frames(z);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_mode(frames[0], "context-mix"));
  EXPECT_NE(frames[0].model_id, models.binary_id);
}

// Decoding a mixed frame without its binary model fails naming the model.
TEST(NetworkMixing, MissingBinaryModelIsNamed) {
  const MixingModels& models = mixing_models();
  std::string z;
  {
    ModelPathScope path(models.dir.string());
    z = compress_at(9, predicted_by(mixing_models().binary, 30000, 10));
  }
  expect_missing_model_named(z, models.text_only.string(), models.binary_id);
}

}  // namespace
}  // namespace lmzip

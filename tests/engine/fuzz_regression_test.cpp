// Replays the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) and
// their saved findings (tests/fuzz/regressions/<target>/, one file per input
// that once crashed or misbehaved) with the checks of the fuzz targets, so a
// fixed bug stays fixed in the ordinary test suite, without clang or libFuzzer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../fuzz/fuzz_models.h"
#include "coder/deflate_streams.h"
#include "format/container.h"
#include "lmzip/lmzip.h"
#include "model/model_file.h"

namespace lmzip {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file of tests/fuzz/{corpus,regressions}/<target>/, sorted.
std::vector<fs::path> inputs(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(LMZIP_SOURCE_DIR) / "tests/fuzz" / kind / target;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The two tiny fuzz models in a temp folder, on the search path while alive.
class FuzzModels {
 public:
  FuzzModels() : dir_(fuzz::write_models()) {
    const char* old = std::getenv("LMZIP_MODEL_PATH");
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv("LMZIP_MODEL_PATH", dir_.c_str(), 1);
  }
  ~FuzzModels() {
    if (had_old_) setenv("LMZIP_MODEL_PATH", old_.c_str(), 1); else unsetenv("LMZIP_MODEL_PATH");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string byte_model() const { return dir_ + "/byte.lmzm"; }
  std::string token_model() const { return dir_ + "/token.lmzm"; }

 private:
  std::string dir_, old_;
  bool had_old_ = false;
};

TEST(FuzzRegression, ModelFileInputsParseOrThrowRuntimeError) {
  for (const fs::path& path : inputs("model_file")) {
    SCOPED_TRACE(path.string());
    const std::string bytes = read_file(path);
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    try {
      const ModelFile model = ModelFile::parse(data, bytes.size());
      const std::vector<std::uint8_t> again = model.serialize();
      EXPECT_EQ(std::string(again.begin(), again.end()), bytes) << "accepted, but not its own encoding";
    } catch (const std::runtime_error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception: " << e.what();
    }
  }
}

TEST(FuzzRegression, ContainerInputsParseOrThrowFormatError) {
  for (const char* target : {"container", "decompress"}) {
    for (const fs::path& path : inputs(target)) {
      SCOPED_TRACE(path.string());
      const std::string bytes = read_file(path);
      std::istringstream in(bytes);
      ContainerReader reader(in);
      try {
        StreamHeader header;
        Frame frame;
        while (reader.next_stream(header))
          while (reader.next_frame(frame)) {
          }
      } catch (const FormatError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "unexpected exception: " << e.what();
      }
    }
  }
}

TEST(FuzzRegression, DecompressInputsDecodeOrThrowError) {
  FuzzModels models;
  for (const fs::path& path : inputs("decompress")) {
    SCOPED_TRACE(path.string());
    const std::string bytes = read_file(path);
    DecompressOptions options;
    options.models.explicit_path = models.byte_model();
    std::istringstream in(bytes);
    std::ostringstream out;
    try {
      const Stats stats = decompress(in, out, options);
      EXPECT_EQ(stats.original_bytes, out.str().size());
    } catch (const Error& e) {
      // The seeds are valid streams made with the fuzz models: they must decode.
      // If random_model() changed, regenerate them (tests/fuzz/make_corpus.cpp).
      EXPECT_EQ(path.parent_path().parent_path().filename(), "regressions")
          << "a seed stream does not decode: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception: " << e.what();
    }
  }
}

// Mode-13 stream tables with the inflated bytes after them, behind a
// two-byte original size (fuzz_inflated.cpp): rebuilt, or refused with a
// reason; the seeds rebuild.
TEST(FuzzRegression, InflatedStreamTablesRebuildOrSayWhy) {
  for (const fs::path& path : inputs("inflated")) {
    SCOPED_TRACE(path.string());
    const std::string bytes = read_file(path);
    if (bytes.size() < 2) continue;
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const std::size_t original_size = data[0] | std::size_t{data[1]} << 8;
    InflatedHeader header;
    std::string why;
    bool rebuilt = read_inflated_header(data + 2, bytes.size() - 2, original_size, &header, &why);
    if (rebuilt) {
      const std::uint8_t* rest = data + 2 + header.header_size;
      std::vector<std::uint8_t> inflated(rest, rest + std::min(header.inflated_size, bytes.size() - 2 - header.header_size));
      inflated.resize(header.inflated_size);
      std::vector<std::uint8_t> out(original_size);
      rebuilt = deflate_streams(inflated.data(), inflated.size(), header.streams, out.data(), out.size(), &why);
    }
    if (path.parent_path().parent_path().filename() == "corpus") {
      EXPECT_TRUE(rebuilt) << why;
    } else if (!rebuilt) {
      EXPECT_FALSE(why.empty());
    }
  }
}

// Hostile inputs (tests/fuzz/craft_hostile.py: entries that declare 64 MiB
// frames or 4,096 chunks over a few bytes) are refused under the fuzz
// target's memory limit, by the limit or at their first chunk.
TEST(FuzzRegression, HostileInputsAreRefusedUnderTheFuzzTargetsLimit) {
  FuzzModels models;
  int hostile = 0;
  for (const fs::path& path : inputs("decompress")) {
    if (path.filename().string().rfind("hostile-", 0) != 0) continue;
    SCOPED_TRACE(path.string());
    ++hostile;
    DecompressOptions options;
    options.models.explicit_path = models.byte_model();
    options.memory_limit = fuzz::kMemoryLimit;
    std::istringstream in(read_file(path));
    std::ostringstream out;
    try {
      decompress(in, out, options);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_TRUE(e.kind() == Error::Kind::Corrupt || e.kind() == Error::Kind::MemoryLimit) << e.what();
    }
  }
  EXPECT_GE(hostile, 6);
}

TEST(FuzzRegression, RoundTripInputsComeBackEqual) {
  FuzzModels models;
  for (const fs::path& path : inputs("roundtrip")) {
    SCOPED_TRACE(path.string());
    const std::string bytes = read_file(path);
    const unsigned knob = bytes.empty() ? 0 : static_cast<unsigned char>(bytes[0]);  // as fuzz_roundtrip.cpp
    const std::string model = (knob & 1) ? models.token_model() : models.byte_model();
    CompressOptions c;
    c.models.explicit_path = model;
    c.chunk_bytes = 1 + (knob >> 1) * 2;
    std::istringstream in(bytes);
    std::ostringstream packed;
    const Stats stats = compress(in, packed, c);
    EXPECT_LE(packed.str().size(), bytes.size() + 63 + 26 * stats.chunks);
    DecompressOptions d;
    d.models.explicit_path = model;
    std::istringstream packed_in(packed.str());
    std::ostringstream out;
    decompress(packed_in, out, d);
    EXPECT_EQ(out.str(), bytes);
  }
}

}  // namespace
}  // namespace lmzip

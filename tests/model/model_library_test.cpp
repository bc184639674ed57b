// Finding models: the search path, levels, lookup by content hash, and error
// messages that say where lmzip looked.
#include "model/model_library.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/model_file.h"
#include "small_model.h"

namespace lmzip {
namespace {

namespace fs = std::filesystem;

const std::string kSourceModels = std::string(LMZIP_SOURCE_DIR) + "/models";

class ModelLibrary : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("LMZIP_MODEL_PATH")) saved_env_ = old;
    ::unsetenv("LMZIP_MODEL_PATH");
    root_ = fs::temp_directory_path() / ("lmzip-library-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (saved_env_) ::setenv("LMZIP_MODEL_PATH", saved_env_->c_str(), 1);
    else ::unsetenv("LMZIP_MODEL_PATH");
    fs::remove_all(root_);
  }
  std::string dir(const std::string& name) {
    fs::create_directories(root_ / name);
    return (root_ / name).string();
  }
  static std::string write(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  static Sha256Digest digest_of(const std::string& content) { return sha256(content.data(), content.size()); }

  fs::path root_;
  std::optional<std::string> saved_env_;
};

Error::Kind kind_of(const std::function<void()>& fn, std::string* message) {
  try {
    fn();
  } catch (const Error& e) {
    *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no lmzip::Error";
  return Error::Kind::Corrupt;
}

TEST_F(ModelLibrary, DirectoriesComeInSearchOrder) {
  ::setenv("LMZIP_MODEL_PATH", "/first::/second:", 1);
  ModelSearch search;
  search.program_path = "/opt/lmzip/bin/lmzip";
  const std::vector<std::string> expected{"/first", "/second", "/opt/lmzip/bin/models",
                                          "/opt/lmzip/bin/../share/lmzip/models", kSourceModels};
  EXPECT_EQ(search.directories(), expected);
}

TEST_F(ModelLibrary, DirectoriesWithoutEnvironmentOrProgramPath) {
  ModelSearch search;
  EXPECT_EQ(search.directories(), std::vector<std::string>{kSourceModels});
  search.program_path = "lmzip";  // not resolved: its directory is unknown
  EXPECT_EQ(search.directories(), std::vector<std::string>{kSourceModels});
  search.program_path = "/lmzip";
  const std::vector<std::string> at_root{"/models", "/../share/lmzip/models", kSourceModels};
  EXPECT_EQ(search.directories(), at_root);
}

TEST_F(ModelLibrary, DirectoriesAreListedOnce) {
  ::setenv("LMZIP_MODEL_PATH", (kSourceModels + ":/a:/a").c_str(), 1);
  const std::vector<std::string> expected{kSourceModels, "/a"};
  EXPECT_EQ(ModelSearch{}.directories(), expected);
}

TEST_F(ModelLibrary, LevelSearchTakesTheFirstDirectoryAndFallsBackToDefault) {
  const std::string a = dir("a"), b = dir("b");
  ::setenv("LMZIP_MODEL_PATH", (a + ":" + b).c_str(), 1);
  write(a + "/default.lmzm", "a default");
  write(b + "/default.lmzm", "b default");
  write(b + "/fast.lmzm", "b fast");
  ModelSearch search;
  EXPECT_EQ(find_model_file(search, "fast.lmzm", "default.lmzm", "level 2"), b + "/fast.lmzm");
  EXPECT_EQ(find_model_file(search, "default.lmzm", "default.lmzm", "level 5"), a + "/default.lmzm");
  // No max.lmzm on the path: default.lmzm, unless the source tree (searched last) ships one.
  const std::string source_max = kSourceModels + "/max.lmzm";
  EXPECT_EQ(find_model_file(search, "max.lmzm", "default.lmzm", "level 9"), fs::exists(source_max) ? source_max : a + "/default.lmzm");
  write(b + "/max.lmzm", "b max");
  EXPECT_EQ(find_model_file(search, "max.lmzm", "default.lmzm", "level 9"), b + "/max.lmzm");

  const std::string bin = dir("prefix/bin"), next_to_program = dir("prefix/bin/models");
  write(next_to_program + "/max.lmzm", "next to the program");
  ::unsetenv("LMZIP_MODEL_PATH");
  search.program_path = bin + "/lmzip";
  EXPECT_EQ(find_model_file(search, "max.lmzm", "default.lmzm", "level 8"), next_to_program + "/max.lmzm");
  const std::string shared = dir("prefix/share/lmzip/models");
  write(shared + "/fast.lmzm", "installed");
  EXPECT_EQ(find_model_file(search, "fast.lmzm", "default.lmzm", "level 1"), bin + "/../share/lmzip/models/fast.lmzm");
}

TEST_F(ModelLibrary, ExplicitPathWinsAndMustExist) {
  const std::string a = dir("a");
  ::setenv("LMZIP_MODEL_PATH", a.c_str(), 1);
  write(a + "/default.lmzm", "a default");
  ModelSearch search;
  search.explicit_path = write(root_.string() + "/mine.bin", "mine");
  EXPECT_EQ(find_model_file(search, "default.lmzm", "default.lmzm", "level 5"), search.explicit_path);
  search.explicit_path = root_.string() + "/missing.lmzm";
  std::string message;
  EXPECT_EQ(kind_of([&] { find_model_file(search, "default.lmzm", "default.lmzm", "level 5"); }, &message), Error::Kind::ModelMissing);
  EXPECT_NE(message.find("missing.lmzm"), std::string::npos) << message;
}

TEST_F(ModelLibrary, MissingLevelModelNamesTheDirectories) {
  for (const char* name : {"fast.lmzm", "default.lmzm"}) {
    if (fs::exists(kSourceModels + "/" + name)) GTEST_SKIP() << "the source tree ships " << name;
  }
  const std::string a = dir("a");
  ::setenv("LMZIP_MODEL_PATH", (a + ":" + root_.string() + "/never-created").c_str(), 1);
  std::string message;
  EXPECT_EQ(kind_of([] { find_model_file(ModelSearch{}, "fast.lmzm", "default.lmzm", "level 2"); }, &message), Error::Kind::ModelMissing);
  for (const std::string& part : {std::string("fast.lmzm"), std::string("default.lmzm"), a,
                                  root_.string() + "/never-created", kSourceModels, std::string("-m FILE"),
                                  std::string("LMZIP_MODEL_PATH")}) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
  }
}

TEST_F(ModelLibrary, FindsAModelByItsHash) {
  const std::string a = dir("a"), b = dir("b");
  ::setenv("LMZIP_MODEL_PATH", (a + ":" + b).c_str(), 1);
  write(a + "/one.lmzm", "model one");
  const std::string two = write(b + "/two.lmzm", "model two");
  write(a + "/two.bin", "model two");  // same bytes, but not a *.lmzm file
  ModelSearch search;
  EXPECT_EQ(find_model_by_id(search, digest_of("model two")), two);
  EXPECT_EQ(find_model_by_id(search, digest_of("model one")), a + "/one.lmzm");
  // An explicit file is tried first, whatever its name.
  search.explicit_path = a + "/two.bin";
  EXPECT_EQ(find_model_by_id(search, digest_of("model two")), search.explicit_path);
  // One that does not match does not stop the search.
  EXPECT_EQ(find_model_by_id(search, digest_of("model one")), a + "/one.lmzm");
}

TEST_F(ModelLibrary, AChangedFileIsHashedAgain) {
  const std::string a = dir("a");
  ::setenv("LMZIP_MODEL_PATH", a.c_str(), 1);
  const std::string path = write(a + "/m.lmzm", "first version");
  EXPECT_EQ(find_model_by_id(ModelSearch{}, digest_of("first version")), path);
  write(path, "second version, longer");
  EXPECT_EQ(find_model_by_id(ModelSearch{}, digest_of("second version, longer")), path);
  std::string message;
  EXPECT_EQ(kind_of([] { find_model_by_id(ModelSearch{}, digest_of("first version")); }, &message),
            Error::Kind::ModelMissing);
}

TEST_F(ModelLibrary, MissingModelMessageGivesTheIdAndTheSearchedPlaces) {
  const std::string a = dir("a");
  ::setenv("LMZIP_MODEL_PATH", a.c_str(), 1);
  write(a + "/other.lmzm", "another model");
  ModelSearch search;
  search.explicit_path = write(root_.string() + "/given.lmzm", "not it either");
  const Sha256Digest id = digest_of("the model nobody has");
  std::string message;
  EXPECT_EQ(kind_of([&] { find_model_by_id(search, id); }, &message), Error::Kind::ModelMissing);
  const std::string expected_start = "model " + to_hex(id).substr(0, 16) + " not found (searched: " +
                                     search.explicit_path + ", " + a + ", ";
  EXPECT_EQ(message.rfind(expected_start, 0), 0u) << message;
  EXPECT_EQ(message.find(to_hex(id).substr(0, 17)), std::string::npos) << "only 16 hex digits: " << message;
  EXPECT_NE(message.find(kSourceModels), std::string::npos) << message;
  EXPECT_NE(message.find("; pass it with -m FILE or set LMZIP_MODEL_PATH"), std::string::npos) << message;
}

TEST_F(ModelLibrary, HashFileMatchesSha256AndReportsIoErrors) {
  std::string content(200000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 % 251);
  const std::string path = write(root_.string() + "/big", content);
  EXPECT_EQ(hash_file(path), digest_of(content));
  std::string message;
  EXPECT_EQ(kind_of([&] { hash_file(root_.string() + "/absent"); }, &message), Error::Kind::Io);
  EXPECT_NE(message.find("absent"), std::string::npos);
}

TEST_F(ModelLibrary, ModelInfoGivesPathNameAndId) {
  const std::string a = dir("a");
  ::setenv("LMZIP_MODEL_PATH", a.c_str(), 1);
  const ModelFile model = testing::small_model();
  const std::vector<std::uint8_t> bytes = model.serialize();
  const std::string path = write(a + "/fast.lmzm", std::string(bytes.begin(), bytes.end()));
  const ModelInfo info = model_info(find_model_file(ModelSearch{}, "fast.lmzm", "", "level 1"));
  EXPECT_EQ(info.path, path);
  EXPECT_EQ(info.name, "small");
  EXPECT_EQ(info.id, to_hex(sha256(bytes.data(), bytes.size())));

  write(path, "LMZX and more bytes than a header needs, surely more than forty-eight");
  std::string message;
  EXPECT_EQ(kind_of([&] { model_info(path); }, &message), Error::Kind::ModelInvalid);
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

// What `lmzip -l -v` names a stream's model by: its hex id from the stream.
TEST_F(ModelLibrary, FindModelTakesTheHexIdOfAStream) {
  const std::string a = dir("a");
  ::setenv("LMZIP_MODEL_PATH", a.c_str(), 1);
  const std::vector<std::uint8_t> bytes = testing::small_model().serialize();
  const std::string path = write(a + "/m.lmzm", std::string(bytes.begin(), bytes.end()));
  const std::string id = to_hex(sha256(bytes.data(), bytes.size()));
  const ModelInfo info = find_model(ModelSearch{}, id);
  EXPECT_EQ(info.path, path);
  EXPECT_EQ(info.name, "small");
  EXPECT_EQ(info.id, id);
  std::string message;
  EXPECT_EQ(kind_of([&] { find_model(ModelSearch{}, to_hex(digest_of("nobody's"))); }, &message),
            Error::Kind::ModelMissing);
  EXPECT_EQ(kind_of([&] { find_model(ModelSearch{}, id.substr(1)); }, &message), Error::Kind::Usage);
  EXPECT_EQ(kind_of([&] { find_model(ModelSearch{}, "g" + id.substr(1)); }, &message), Error::Kind::Usage);
}

}  // namespace
}  // namespace lmzip

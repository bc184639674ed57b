// derive_window (`lmzip derive`): the same weights with another attention
// window, a self-test that matches it, and a description that says so.
#include "model/derive_window.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "../common/small_models.h"
#include "model/model_file.h"
#include "model/random_model.h"

namespace lmzip {
namespace {

class DeriveWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lmzip-derive-window-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "trained.lmzm").string();
    trained_ = random_model(testing::small_config(), 4);
    trained_.save(path_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
  ModelFile trained_;
};

TEST_F(DeriveWindow, KeepsTheWeightsAndRecomputesTheSelfTest) {
  const std::vector<std::uint8_t> bytes = derive_window(path_, 4, "short");
  const ModelFile derived = ModelFile::parse(bytes.data(), bytes.size());
  EXPECT_EQ(derived.config.window, 4u);
  EXPECT_EQ(derived.name, "short");
  EXPECT_EQ(derived.description, trained_.description + " Attention window 32 cut to 4 by lmzip derive.");
  EXPECT_EQ(derived.embedding.weight, trained_.embedding.weight);
  EXPECT_EQ(derived.output.multiplier, trained_.output.multiplier);
  EXPECT_EQ(derived.selftest_symbols, trained_.selftest_symbols);
  EXPECT_NE(derived.selftest_digest, trained_.selftest_digest);  // 32 symbols see past a window of 4
  ModelFile recomputed = derived;
  fill_selftest(recomputed);
  EXPECT_EQ(derived.selftest_digest, recomputed.selftest_digest);
}

TEST_F(DeriveWindow, EmptyNameKeepsTheModelsName) {
  const std::vector<std::uint8_t> bytes = derive_window(path_, 16, "");
  EXPECT_EQ(ModelFile::parse(bytes.data(), bytes.size()).name, trained_.name);
}

TEST_F(DeriveWindow, RejectsAWindowOutsideTheFormatsRange) {
  EXPECT_THROW(derive_window(path_, 0, ""), std::runtime_error);
  EXPECT_THROW(derive_window((dir_ / "missing.lmzm").string(), 8, ""), std::runtime_error);
}

}  // namespace
}  // namespace lmzip

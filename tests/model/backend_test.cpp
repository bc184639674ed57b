// The predictor factory: which device runs which work, and the errors and
// notices about it. Without a usable GPU every choice is the CPU.
#include "model/backend.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include "lmzip/lmzip.h"
#include "model/cuda_predictor.h"
#include "model/network.h"
#include "model/random_model.h"
#include "../common/small_models.h"

namespace lmzip {
namespace {

TEST(PredictorFactory, UnknownDeviceWordsAreUsageErrors) {
  for (const char* word : {"gpu", "CUDA", "cpu0", " cpu"}) {
    try {
      PredictorFactory factory(word);
      ADD_FAILURE() << "accepted '" << word << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::Usage) << word;
      EXPECT_NE(std::string(e.what()).find("auto, cpu or cuda"), std::string::npos) << e.what();
    }
  }
}

TEST(PredictorFactory, CpuRunsEverythingItIsAskedTo) {
  PredictorFactory factory("cpu");
  PredictorNeeds adapting;
  adapting.adapts_output = true;
  EXPECT_EQ(factory.device_for({}), Device::Cpu);
  EXPECT_EQ(factory.device_for(adapting), Device::Cpu);
  const ModelFile model = random_model(testing::tiny_config(), 3);
  Device device = Device::Cuda;
  auto predictor = factory.make(model, adapting, 2, 8, &device);
  EXPECT_EQ(device, Device::Cpu);
  ASSERT_NE(predictor, nullptr);
  EXPECT_GE(predictor->max_streams(), 8u);
  EXPECT_TRUE(factory.take_notices().empty());  // nothing asked that it could not do
  EXPECT_EQ(PredictorFactory::describe(Device::Cpu), "CPU");
}

TEST(PredictorFactory, CudaWithoutAGpuIsAUsageErrorAndAutoIsTheCpu) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  try {
    PredictorFactory factory("cuda");
    ADD_FAILURE() << "--device cuda accepted without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::Usage);
    EXPECT_NE(std::string(e.what()).find("--device cuda"), std::string::npos) << e.what();
  }
  PredictorFactory factory("auto");
  EXPECT_EQ(factory.device_for({}), Device::Cpu);
}

// Asked for by name, the GPU runs what it can; adapting work goes to the
// CPU with one notice, however often it is asked.
TEST(PredictorFactory, CudaAskedForAdaptingWorkGivesOneNotice) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU";
  PredictorFactory factory("cuda");
  PredictorNeeds adapting;
  adapting.adapts_output = true;
  EXPECT_EQ(factory.device_for({}), Device::Cuda);
  EXPECT_EQ(factory.device_for(adapting), Device::Cpu);
  EXPECT_EQ(factory.device_for(adapting), Device::Cpu);
  const auto notices = factory.take_notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("output adaptation"), std::string::npos) << notices[0];
  EXPECT_TRUE(factory.take_notices().empty());
}

// The memory limit (-M) weighs predictors by PredictorFactory::bytes, an
// estimate from the layout: it must not fall short of what a CPU predictor
// really allocates when made (glibc's heap counters, before and after), nor
// overstate it twice over (the estimate also holds the tables and
// adjustments each step fills, allocated on first use).
TEST(PredictorFactory, BytesMatchWhatACpuPredictorAllocates) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator keeps its own counts, not glibc's";
#endif
  for (const ModelConfig& config : {testing::tiny_config(), testing::small_config()}) {
    const ModelFile model = random_model(config, 3);
    for (std::uint32_t streams : {16u, 256u}) {
      const struct mallinfo2 before = mallinfo2();
      auto predictor = make_cpu_predictor(model, streams);
      const struct mallinfo2 after = mallinfo2();
      const double allocated = static_cast<double>((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd));
      if (allocated <= 0) GTEST_SKIP() << "no heap counters from this allocator";
      const double estimate = static_cast<double>(PredictorFactory::bytes(model, Device::Cpu, 1, streams));
      EXPECT_GE(estimate, 0.9 * allocated) << "width " << config.width << ", " << streams << " streams";
      EXPECT_LE(estimate, 2.0 * allocated) << "width " << config.width << ", " << streams << " streams";
    }
  }
}

}  // namespace
}  // namespace lmzip

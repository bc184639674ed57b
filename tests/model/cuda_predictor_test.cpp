// The CUDA predictor against the CPU predictor and the reference network:
// identical frequency tables in every batch shape, slot and model shape, and
// identical .lmz bytes through the CLI (docs/gpu.md). Compiled in every build;
// the GPU tests skip (not fail) where the CUDA path is not built or no GPU is
// present.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "hash/sha256.h"
#include "model/cuda_predictor.h"
#include "model/network.h"
#include "model/random_model.h"
#include "../common/small_models.h"
#include "predictor_checks.h"

namespace lmzip {
namespace {

using testing::reference_hash;
using testing::small_config;
using testing::test_symbols;

#define LMZIP_REQUIRE_CUDA()                                   \
  do {                                                         \
    if (!cuda_available()) GTEST_SKIP() << cuda_description(); \
  } while (0)

// Drives the CPU and the CUDA predictor with the same ragged workload: streams
// of different lengths in scattered slots, each step feeding a shuffled subset
// of the live streams, slots reset and reused as streams end. Every table of
// every step must be equal (reports the first difference), and so must what
// the GPU's coding interface hands out.
void expect_same_tables(const ModelFile& m, std::uint32_t max_streams, std::uint32_t streams, std::size_t length,
                        std::uint32_t seed) {
  const std::uint32_t V = m.config.vocab_size;
  auto cpu = make_cpu_predictor(m, max_streams);
  auto gpu = make_cuda_predictor(m, max_streams);
  std::mt19937 rng(seed);
  struct Stream {
    std::vector<std::uint32_t> symbols;
    std::size_t next = 0;  // symbols fed so far (0: BOS next)
    std::uint32_t slot = 0;
  };
  std::vector<Stream> live(std::min(streams, max_streams));
  std::vector<std::uint32_t> free_slots(max_streams);
  for (std::uint32_t s = 0; s < max_streams; ++s) free_slots[s] = max_streams - 1 - s;
  std::shuffle(free_slots.begin(), free_slots.end(), rng);
  std::uint32_t started = 0;
  auto start = [&](Stream& st) {
    st.symbols = test_symbols(length / 2 + rng() % (length / 2 + 1), seed * 1000 + started++, V);
    st.next = 0;
    st.slot = free_slots.back();
    free_slots.pop_back();
    cpu->reset(st.slot);
    gpu->reset(st.slot);
  };
  for (Stream& st : live) start(st);

  std::vector<std::uint32_t> slots, symbols, f_cpu, f_gpu;
  for (std::size_t step = 0; !live.empty(); ++step) {
    std::vector<std::size_t> order(live.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(1 + rng() % order.size());  // a subset steps; the others wait
    slots.clear();
    symbols.clear();
    for (std::size_t i : order) {
      slots.push_back(live[i].slot);
      symbols.push_back(live[i].next == 0 ? V : live[i].symbols[live[i].next - 1]);
    }
    f_cpu.assign(slots.size() * V, 0);
    f_gpu.assign(slots.size() * V, 0);
    cpu->step(slots.data(), symbols.data(), slots.size(), f_cpu.data());
    gpu->step(slots.data(), symbols.data(), slots.size(), f_gpu.data());
    if (f_cpu != f_gpu) {
      for (std::size_t r = 0; r < slots.size(); ++r)
        for (std::uint32_t o = 0; o < V; ++o)
          if (f_cpu[r * V + o] != f_gpu[r * V + o]) {
            ADD_FAILURE() << "step " << step << ", batch " << slots.size() << ", slot " << slots[r] << ", position "
                          << live[order[r]].next << ", symbol " << o << ": cpu " << f_cpu[r * V + o] << ", cuda "
                          << f_gpu[r * V + o];
            return;
          }
    }
    // The coding interface over the tables the GPU keeps.
    testing::expect_coding_matches_tables(*gpu, f_cpu.data(), slots.size(), rng);
    if (::testing::Test::HasFatalFailure()) return;
    for (std::size_t i : order) ++live[i].next;
    // Finished streams free their slots; a new stream may take one.
    for (std::size_t i = 0; i < live.size();) {
      if (live[i].next > live[i].symbols.size()) {
        free_slots.insert(free_slots.begin(), live[i].slot);
        if (started < streams) {
          start(live[i]);
          ++i;
        } else {
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        }
      } else {
        ++i;
      }
    }
  }
}

TEST(CudaPredictor, ReportsWhyItIsUnavailable) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: " << cuda_description();
  EXPECT_FALSE(cuda_description().empty());
  const ModelFile m = random_model(small_config(), 7);
  try {
    make_cuda_predictor(m, 4);
    ADD_FAILURE() << "make_cuda_predictor succeeded without CUDA";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

TEST(CudaPredictor, MatchesReferenceInEveryBatchAndSlot) {
  LMZIP_REQUIRE_CUDA();
  const ModelFile m = random_model(small_config(), 20261123);
  const auto target = test_symbols(200, 4, 256);  // longer than the window: the cache wraps
  const std::string expected = reference_hash(m, target);
  auto p = make_cuda_predictor(m, 64);
  const std::uint32_t V = p->vocab_size();
  for (std::uint32_t batch : {1u, 7u, 64u}) {
    for (std::uint32_t first : {0u, 13u, 63u}) {
      std::vector<std::uint32_t> slots(batch), symbols(batch), f(std::size_t{batch} * V);
      std::vector<std::vector<std::uint32_t>> streams(batch);
      for (std::uint32_t b = 0; b < batch; ++b) {
        slots[b] = (first + b) % p->max_streams();
        streams[b] = b == 0 ? target : test_symbols(target.size(), 100 + b, V);
        p->reset(slots[b]);
      }
      Sha256 h;
      for (std::size_t t = 0; t < target.size(); ++t) {
        for (std::uint32_t b = 0; b < batch; ++b) symbols[b] = t == 0 ? V : streams[b][t - 1];
        p->step(slots.data(), symbols.data(), batch, f.data());
        h.update(f.data(), std::size_t{V} * 4);
      }
      EXPECT_EQ(to_hex(h.finish()), expected) << "batch " << batch << ", first slot " << first;
    }
  }
}

TEST(CudaPredictor, MatchesCpuOnRaggedBatches) {
  LMZIP_REQUIRE_CUDA();
  expect_same_tables(random_model(small_config(), 7), 64, 200, 120, 1);
}

TEST(CudaPredictor, MatchesCpuAcrossModelShapes) {
  LMZIP_REQUIRE_CUDA();
  struct Shape {
    const char* what;
    ModelConfig c;
  };
  std::vector<Shape> shapes;
  {
    ModelConfig c = small_config();
    c.heads = c.kv_heads = 4;  // one kv head per query head
    c.head_dim = 4;
    c.window = 5;
    shapes.push_back({"tiny heads, short window", c});
  }
  {
    ModelConfig c = small_config();
    c.heads = 2;
    c.kv_heads = 1;
    c.head_dim = 256;  // wider than the attention kernel's block
    c.layers = 1;
    shapes.push_back({"head_dim 256", c});
  }
  {
    ModelConfig c = small_config();
    c.width = 1040;  // inner sizes above 1024: split GEMMs for q/k/v, w1 and the output
    c.ffn = 2100;    // and for w2
    c.layers = 1;
    c.heads = 8;
    c.kv_heads = 1;
    c.head_dim = 32;
    shapes.push_back({"inner sizes above 1024", c});
  }
  {
    ModelConfig c = small_config();
    c.vocab_size = 5000;  // a token model's vocabulary
    c.layers = 1;
    shapes.push_back({"vocabulary 5000", c});
  }
  std::uint32_t seed = 30;
  for (const Shape& s : shapes) {
    SCOPED_TRACE(s.what);
    expect_same_tables(random_model(s.c, seed), 32, 48, 80, seed);
    ++seed;
  }
}

TEST(CudaPredictor, WindowLongerThanSharedTile) {
  LMZIP_REQUIRE_CUDA();
  ModelConfig c = small_config();
  c.layers = 1;
  c.window = 3000;  // the kernel keeps 2048 scores in shared memory, recomputes the rest
  const ModelFile m = random_model(c, 11);
  const auto target = test_symbols(2600, 5, 256);
  auto p = make_cuda_predictor(m, 3);
  const std::uint32_t slots[2] = {2, 0};
  std::vector<std::uint32_t> f(2 * 256);
  Sha256 h;
  for (std::uint32_t s : slots) p->reset(s);
  for (std::size_t t = 0; t < target.size(); ++t) {
    const std::uint32_t sym = t == 0 ? 256 : target[t - 1];
    const std::uint32_t symbols[2] = {sym, sym};
    p->step(slots, symbols, 2, f.data());
    ASSERT_TRUE(std::equal(f.begin(), f.begin() + 256, f.begin() + 256)) << t;
    h.update(f.data(), 256 * 4);
  }
  EXPECT_EQ(to_hex(h.finish()), reference_hash(m, target));
}

TEST(CudaPredictor, SelfTestRejectsADifferentDigest) {
  LMZIP_REQUIRE_CUDA();
  ModelFile m = random_model(small_config(), 7);
  m.selftest_digest[0] ^= 1;
  EXPECT_THROW(make_cuda_predictor(m, 1), std::runtime_error);
}

// The whole program: .lmz bytes written with --device cuda equal those
// written with --device cpu, and each decodes on the other device.
TEST(CudaPredictor, LmzBytesMatchCpu) {
  LMZIP_REQUIRE_CUDA();
#ifndef LMZIP_BINARY
  GTEST_SKIP() << "the lmzip program's path is not compiled into this test";
#else
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lmzip-cuda-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{dir};
  ModelConfig c = small_config();
  c.chunk_bytes = 4096;  // many chunks: a batch of many streams
  ModelFile m = random_model(c, 77);
  m.save((dir / "model.lmzm").string());
  {
    std::ofstream in(dir / "input", std::ios::binary);
    std::mt19937 rng(3);
    const std::string phrase = "integer-exact inference on every backend; ";
    for (int i = 0; i < 6000; ++i) in << phrase.substr(0, 10 + rng() % 30) << (rng() % 9 == 0 ? '\n' : ' ');
  }
  const std::string lmzip = LMZIP_BINARY;
  auto run = [&](const std::string& args) {
    const std::string cmd = "'" + lmzip + "' -q -f -m '" + (dir / "model.lmzm").string() + "' " + args;
    return std::system(cmd.c_str());
  };
  auto read = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  const std::string in = (dir / "input").string();
  ASSERT_EQ(run("--device cpu -c '" + in + "' > '" + (dir / "cpu.lmz").string() + "'"), 0);
  ASSERT_EQ(run("--device cuda -c '" + in + "' > '" + (dir / "cuda.lmz").string() + "'"), 0);
  const std::string cpu_bytes = read(dir / "cpu.lmz"), cuda_bytes = read(dir / "cuda.lmz");
  EXPECT_GT(cpu_bytes.size(), 0u);
  EXPECT_TRUE(cpu_bytes == cuda_bytes) << "cpu " << cpu_bytes.size() << " bytes, cuda " << cuda_bytes.size();
  ASSERT_EQ(run("--device cpu -d -c '" + (dir / "cuda.lmz").string() + "' > '" + (dir / "from-cuda").string() + "'"), 0);
  ASSERT_EQ(run("--device cuda -d -c '" + (dir / "cpu.lmz").string() + "' > '" + (dir / "from-cpu").string() + "'"), 0);
  EXPECT_TRUE(read(dir / "from-cuda") == read(dir / "input"));
  EXPECT_TRUE(read(dir / "from-cpu") == read(dir / "input"));
#endif
}

}  // namespace
}  // namespace lmzip

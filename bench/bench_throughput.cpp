// Symbols per second of the CPU predictor, encoding and decoding, against the
// ceiling set by the int8 matrix products alone at the same shapes.
//
//   build/bench/bench_throughput [--model FILE] [--streams 256] [--length 1024] [--input FILE] [--groups 1]
//
// Without --model it uses a fixed-seed model of the shape: 4 layers,
// 256 wide, 256 symbols, a 256-symbol window. Each of the streams codes
// `length` symbols (from --input, or generated text), so most steps attend
// over the full window. --groups N splits each step's streams between N
// predictors, each on its own thread (what `lmzip -T N` does); the ceiling is
// then measured the same way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "engine/chunk_coder.h"
#include "model/int8_gemm.h"
#include "model/model_file.h"
#include "model/network.h"
#include "model/parallel_predictor.h"
#include "model/random_model.h"

using namespace lmzip;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The int8 products one predictor step runs, on random weights and inputs.
double gemm_ceiling(const ModelConfig& c, std::int64_t streams, int steps) {
  std::uint64_t state = 99;
  auto integers = [&](std::size_t n) {
    std::vector<std::int8_t> v(n);
    for (auto& e : v) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      e = static_cast<std::int8_t>(static_cast<int>((state >> 33) % 255) - 127);
    }
    return v;
  };
  const std::uint32_t q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
  const auto rows = static_cast<std::size_t>(streams);
  const std::vector<std::int8_t> x = integers(rows * c.width), h = integers(rows * c.ffn), o = integers(rows * q);
  std::vector<Int8Gemm> gemms;
  std::vector<const std::vector<std::int8_t>*> inputs;
  auto add = [&](std::uint32_t out, std::uint32_t in, const std::vector<std::int8_t>& input) {
    gemms.emplace_back(integers(std::size_t{out} * in).data(), out, in);
    inputs.push_back(&input);
  };
  for (std::uint32_t l = 0; l < c.layers; ++l) {
    add(q, c.width, x);
    add(kv, c.width, x);
    add(kv, c.width, x);
    add(c.width, q, o);
    add(c.ffn, c.width, x);
    add(c.width, c.ffn, h);
  }
  add(c.vocab_size, c.width, x);
  std::vector<std::int32_t> out(rows * std::max({q, c.ffn, c.width, c.vocab_size}));
  auto run = [&] {
    for (std::size_t i = 0; i < gemms.size(); ++i) gemms[i].run(inputs[i]->data(), rows, out.data());
  };
  for (int i = 0; i < 3; ++i) run();
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) run();
  return static_cast<double>(streams) * steps / seconds_since(t0);
}

std::vector<std::uint8_t> generated_text(std::size_t n) {
  const char* words[] = {"the ", "of ", "and ", "compression ", "model ", "a ", "language ", "is ", "predicts ",
                         "next ", "symbol ", "range ", "coder ", "writes ", "bits.\n", "every ", "file "};
  std::vector<std::uint8_t> out;
  std::uint64_t state = 12345;
  while (out.size() < n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const char* w = words[(state >> 33) % (sizeof(words) / sizeof(words[0]))];
    out.insert(out.end(), w, w + std::strlen(w));
  }
  out.resize(n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, input_path;
  std::uint32_t streams = 256, length = 1024, groups = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") model_path = argv[i + 1];
    else if (a == "--input") input_path = argv[i + 1];
    else if (a == "--streams") streams = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    else if (a == "--length") length = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    else if (a == "--groups") groups = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 1;
    }
  }
  const ModelFile model = model_path.empty() ? random_model(ModelConfig{}, 1) : ModelFile::load(model_path);
  const ModelConfig& c = model.config;
  const auto tokenizer = model.tokenizer == TokenizerKind::Bytes
                             ? Tokenizer::bytes()
                             : Tokenizer::from_pieces(model.pieces, model.piece_scores);

  std::vector<std::uint8_t> text;
  if (!input_path.empty()) {
    std::ifstream f(input_path, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(f), {});
  }
  if (text.empty()) text = generated_text(std::size_t{streams} * length * 4);
  std::vector<std::uint32_t> all;
  tokenizer->encode(text.data(), text.size(), all);
  std::vector<CodedChunk> chunks(streams);
  for (std::uint32_t s = 0; s < streams; ++s)
    for (std::uint32_t i = 0; i < length; ++i)
      chunks[s].symbols.push_back(all[(std::size_t{s} * length + i) % all.size()]);
  const double symbols = static_cast<double>(streams) * length;

  // Runs fn(group, first, last) on one thread per group (the ceiling's GEMMs).
  auto in_groups = [&](auto fn) {
    std::vector<std::thread> threads;
    for (std::uint32_t g = 0; g < groups; ++g)
      threads.emplace_back(fn, g, std::size_t{streams} * g / groups, std::size_t{streams} * (g + 1) / groups);
    for (auto& t : threads) t.join();
  };
  std::vector<double> rates(groups);
  in_groups([&](std::uint32_t g, std::size_t first, std::size_t last) {
    rates[g] = gemm_ceiling(c, static_cast<std::int64_t>(last - first), 50);
  });
  double ceiling = 0;
  for (double r : rates) ceiling += r;

  std::vector<std::unique_ptr<Predictor>> parts;
  for (std::uint32_t g = 0; g < groups; ++g) parts.push_back(make_cpu_predictor(model, streams / groups + 1));
  auto predictor = make_parallel_predictor(std::move(parts));
  auto t0 = Clock::now();
  encode_chunks(*predictor, chunks, 0, chunks.size());
  const double encode_rate = symbols / seconds_since(t0);

  std::vector<DecodeTask> tasks;
  std::size_t coded_bytes = 0;
  for (auto& ch : chunks) {
    std::string original;
    tokenizer->decode(ch.symbols.data(), ch.symbols.size(), original);
    tasks.push_back({ch.payload.data(), ch.payload.size(), static_cast<std::uint32_t>(ch.symbols.size()),
                     static_cast<std::uint32_t>(original.size()), ch.mode, ch.frame, {}});
    coded_bytes += ch.payload.size();
  }
  t0 = Clock::now();
  decode_chunks(*predictor, *tokenizer, tasks, 0, tasks.size());
  const double decode_rate = symbols / seconds_since(t0);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    std::string original;
    tokenizer->decode(chunks[i].symbols.data(), chunks[i].symbols.size(), original);
    if (tasks[i].bytes != original) {
      std::fprintf(stderr, "decode mismatch in chunk %zu\n", i);
      return 1;
    }
  }
  double ideal = 0;
  for (auto& ch : chunks) ideal += ch.ideal_bits;

  std::printf("| model | groups | streams | symbols/stream | GEMM ceiling sym/s | encode sym/s | decode sym/s | encode / ceiling | decode / ceiling | coder overhead |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| %s %ux%u V=%u W=%u | %u | %u | %u | %.0f | %.0f | %.0f | %.0f%% | %.0f%% | %.3f%% |\n",
              model_path.empty() ? "random" : model.name.c_str(), c.layers, c.width, c.vocab_size, c.window,
              groups, streams, length, ceiling, encode_rate, decode_rate, 100 * encode_rate / ceiling,
              100 * decode_rate / ceiling, 100.0 * (coded_bytes * 8.0 - ideal) / ideal);
  return 0;
}

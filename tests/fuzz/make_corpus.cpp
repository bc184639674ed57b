// Writes the seed corpora for the fuzz targets into tests/fuzz/corpus/<target>/:
// small model files, .lmz streams made with the tiny fuzz models (stored and
// coded chunks, several frames, two streams back to back) and raw inputs for
// the round trip. Deterministic: running it again writes the same files.
// decompress/v<N>_*.lmz hold chunks of mode N, written by earlier versions
// (CHANGELOG.md) and kept so that every mode no level writes today stays
// fuzzed and decodable; nothing rewrites them. The wide-counts mode differs
// from the large-counts one only in the counts' sizes.
//
//   build-fuzz/make_corpus tests/fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_models.h"
#include "lmzip/lmzip.h"

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    std::exit(1);
  }
}

std::string compress(const std::string& model, const std::string& data, std::uint32_t chunk_bytes,
                     lmzip::Stats* stats = nullptr) {
  lmzip::CompressOptions o;
  o.models.explicit_path = model;
  o.chunk_bytes = chunk_bytes;
  std::istringstream in(data);
  std::ostringstream out;
  lmzip::Stats s = lmzip::compress(in, out, o);
  if (stats) *stats = s;
  return out.str();
}

std::string repeat(const std::string& unit, std::size_t size) {
  std::string s;
  while (s.size() < size) s += unit;
  s.resize(size);
  return s;
}

std::string pseudo_random(std::size_t size, std::uint32_t seed) {
  std::string s(size, '\0');
  for (auto& c : s) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus CORPUS_DIR\n";
    return 2;
  }
  const std::string root = argv[1];
  for (const char* target : {"model_file", "decompress", "roundtrip"}) {
    const std::string cmd = "mkdir -p '" + root + "/" + target + "'";
    if (std::system(cmd.c_str()) != 0) return 1;
  }
  const std::string models = lmzip::fuzz::write_models();
  const std::string byte_model = models + "/byte.lmzm";
  const std::string token_model = models + "/token.lmzm";

  // Model files: the smallest valid ones (V = 2, one and two layers) and the
  // byte model (the Bytes tokenizer path).
  {
    auto save = [&](const lmzip::ModelFile& m, const std::string& name) {
      const auto bytes = m.serialize();
      write_file(root + "/model_file/" + name, std::string(bytes.begin(), bytes.end()));
    };
    save(lmzip::random_model(lmzip::testing::smallest_config(2), 7), "v2_one_layer.lmzm");
    lmzip::ModelConfig two = lmzip::testing::smallest_config(3);
    two.layers = 2;
    two.kv_heads = 2;
    save(lmzip::random_model(two, 8), "v3_two_layers.lmzm");
    save(lmzip::fuzz::byte_model(), "byte.lmzm");
  }

  // Coded chunks need input the untrained models predict better than 8 bits
  // a byte: runs of the byte each model favours most. Not a control byte:
  // the frame then looks like text, which goes to the model, not LZMA2.
  auto best_run_byte = [&](const std::string& model) {
    std::size_t best_size = SIZE_MAX;
    char best = 0;
    for (int b = 0; b < 256; ++b) {
      if (b < 0x20 || b == 0x7F) continue;
      const std::size_t size = compress(model, std::string(512, static_cast<char>(b)), 1024).size();
      if (size < best_size) best_size = size, best = static_cast<char>(b);
    }
    std::cerr << model << ": a run of byte " << (static_cast<int>(best) & 255) << " takes " << best_size
              << " bytes for 512\n";
    return best;
  };
  const char favoured = best_run_byte(byte_model);
  const char token_favoured = best_run_byte(token_model);
  const std::string text = "It was the best of times, it was the worst of times.\n";

  struct Seed {
    std::string name, model, data;
    std::uint32_t chunk_bytes;
  };
  std::vector<Seed> seeds = {
      {"empty.lmz", byte_model, "", 0},
      {"short_text.lmz", byte_model, text, 0},
      {"stored_random.lmz", byte_model, pseudo_random(300, 1), 100},
      {"frames.lmz", byte_model, repeat(text, 700), 2},  // 256 chunks of 2 bytes a frame: 2 frames
  };
  // Short coded chunks: the decoder steps the network once per symbol, so a
  // seed's symbol count is what an execution costs.
  seeds.push_back({"coded_run.lmz", byte_model, std::string(300, favoured), 150});
  seeds.push_back({"coded_mixed.lmz", byte_model, std::string(150, favoured) + text + std::string(150, favoured), 200});
  seeds.push_back({"token_coded.lmz", token_model, std::string(240, token_favoured), 120});
  // LZMA2 finds the repeats of a random block, the model cannot: lzma2 chunks.
  seeds.push_back({"lzma2.lmz", byte_model, repeat(pseudo_random(200, 3), 3000), 1000});
  std::string concatenated;
  for (const Seed& seed : seeds) {
    lmzip::Stats s;
    const std::string lmz = compress(seed.model, seed.data, seed.chunk_bytes, &s);
    std::cerr << seed.name << ": " << seed.data.size() << " -> " << lmz.size() << " bytes, " << s.chunks
              << " chunks, " << s.stored_chunks << " stored, " << s.lzma2_frames << " LZMA2 frames\n";
    write_file(root + "/decompress/" + seed.name, lmz);
    if (concatenated.size() < 2000) concatenated += lmz;
  }
  write_file(root + "/decompress/concatenated.lmz", concatenated);

  // Round trip: the first byte picks model and chunk size (fuzz_roundtrip.cpp).
  write_file(root + "/roundtrip/empty", "");
  write_file(root + "/roundtrip/one_byte", "\x01");
  write_file(root + "/roundtrip/text_byte_model", std::string("\x20", 1) + repeat(text, 600));
  write_file(root + "/roundtrip/text_token_model", std::string("\x21", 1) + repeat(text, 600));
  write_file(root + "/roundtrip/random", pseudo_random(800, 2));
  write_file(root + "/roundtrip/runs_small_chunks",
             std::string("\x02", 1) + std::string(400, favoured) + text);
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  write_file(root + "/roundtrip/all_bytes", "\xfe" + all);

  std::system(("rm -rf '" + models + "'").c_str());
  return 0;
}

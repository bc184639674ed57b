// Writes the seed corpora for the fuzz targets into tests/fuzz/corpus/<target>/:
// small model files, .lmz streams made with the tiny fuzz models (stored and
// coded chunks, several frames, two streams back to back, LZMA2, image and
// audio chunks, deflate streams inflated), raw inputs for the round trip and
// mode-13 payloads for the inflated target. Deterministic: running it again writes the same files.
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

#include "../common/zlib_streams.h"
#include "coder/context_mixing.h"
#include "coder/deflate_streams.h"
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
                     lmzip::Stats* stats = nullptr, std::uint64_t memory_limit = 0) {
  lmzip::CompressOptions o;
  o.models.explicit_path = model;
  o.chunk_bytes = chunk_bytes;
  o.memory_limit = memory_limit;
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

// A smooth image with a little noise (PGM or PPM) and a triangle wave with
// a little noise (WAV): what the image and audio codecs shrink.
std::string test_image(int width, int height, int channels, std::uint32_t seed) {
  std::string s = std::string(channels == 1 ? "P5" : "P6") + "\n" + std::to_string(width) + " " +
                  std::to_string(height) + "\n255\n";
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        seed = seed * 1664525u + 1013904223u;
        s.push_back(static_cast<char>((x * 3 + y * 2 + c * 40 + static_cast<int>(seed >> 30)) & 255));
      }
  return s;
}

std::string test_wav(std::uint32_t frames, std::uint32_t channels, std::uint32_t bits, std::uint32_t seed) {
  auto le = [](std::string& s, std::uint32_t v, int n) {
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  };
  const std::uint32_t block = channels * bits / 8;
  std::string s = "RIFF";
  le(s, 36 + frames * block, 4);
  s += "WAVEfmt ";
  le(s, 16, 4);
  le(s, 1, 2);
  le(s, channels, 2);
  le(s, 8000, 4);
  le(s, 8000 * block, 4);
  le(s, block, 2);
  le(s, bits, 2);
  s += "data";
  le(s, frames * block, 4);
  for (std::uint32_t i = 0; i < frames; ++i)
    for (std::uint32_t c = 0; c < channels; ++c) {
      seed = seed * 1664525u + 1013904223u;
      const int phase = static_cast<int>((i * (3 + c)) % 200);
      const int wave = (phase < 100 ? phase : 200 - phase) - 50;  // -50..50
      if (bits == 8) le(s, static_cast<std::uint32_t>(128 + wave + static_cast<int>(seed >> 30)), 1);
      else le(s, static_cast<std::uint32_t>(wave * 300 + static_cast<int>(seed >> 28)), bits / 8);
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
  for (const char* target : {"model_file", "decompress", "roundtrip", "inflated"}) {
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
    std::uint64_t memory_limit = 0;  // -M; 0: the default
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
  // The repeats of a random block: context mixing codes them smaller than
  // LZMA2 does; under a limit too small for its tables, LZMA2 codes them.
  seeds.push_back({"context_mix.lmz", byte_model, repeat(pseudo_random(200, 3), 3000), 1000});
  seeds.push_back({"lzma2.lmz", byte_model, repeat(pseudo_random(200, 3), 3000), 1000, std::uint64_t{16} << 20});
  // A zlib stream and a zip entry of text among binary bytes: mode 13.
  std::string lines;
  for (int i = 0; lines.size() < 3000; ++i) lines += "line " + std::to_string(i * i % 997) + " of the seed\n";
  const auto* line_bytes = reinterpret_cast<const std::uint8_t*>(lines.data());
  const std::vector<std::uint8_t> zlib_stream = lmzip::testing::deflated(line_bytes, lines.size(), 9, 15);
  const std::vector<std::uint8_t> zip_entry =
      lmzip::testing::zip_entry(lmzip::testing::deflated(line_bytes, lines.size() / 2, 6, -15));
  const std::string deflated = pseudo_random(100, 4) + std::string(zlib_stream.begin(), zlib_stream.end()) +
                               pseudo_random(50, 5) + std::string(zip_entry.begin(), zip_entry.end());
  seeds.push_back({"inflated_context_mix.lmz", byte_model, deflated, 0});
  // Pixels and samples: image and audio chunks beside stored ones (headers).
  seeds.push_back({"image_grey.lmz", byte_model, test_image(64, 32, 1, 5), 0});
  seeds.push_back({"image_rgb.lmz", byte_model, "text before\n" + test_image(24, 20, 3, 6), 0});
  seeds.push_back({"audio_stereo.lmz", byte_model, test_wav(400, 2, 16, 7), 0});
  seeds.push_back({"audio_8bit.lmz", byte_model, test_wav(1500, 1, 8, 8), 0});
  std::string concatenated;
  for (const Seed& seed : seeds) {
    lmzip::Stats s;
    const std::string lmz = compress(seed.model, seed.data, seed.chunk_bytes, &s, seed.memory_limit);
    std::cerr << seed.name << ": " << seed.data.size() << " -> " << lmz.size() << " bytes, " << s.chunks
              << " chunks, " << s.stored_chunks << " stored, " << s.lzma2_frames << " LZMA2 frames, "
              << s.context_mixing_frames << " context-mixing frames, " << s.media_frames << " image or audio frames\n";
    write_file(root + "/decompress/" + seed.name, lmz);
    if (concatenated.size() < 2000) concatenated += lmz;
  }
  write_file(root + "/decompress/concatenated.lmz", concatenated);

  // Level 9 with the byte model as the binary model: its network mixed into
  // context mixing (mode 14), the frame naming it in a model block.
  {
    const std::string levels = models + "/levels";
    if (std::system(("mkdir -p '" + levels + "'").c_str()) != 0) return 1;
    lmzip::fuzz::token_model().save(levels + "/max.lmzm");
    lmzip::fuzz::byte_model().save(levels + "/binary.lmzm");
    lmzip::CompressOptions o;
    o.level = 9;
    o.models.program_path = "/nonexistent/lmzip";
    setenv("LMZIP_MODEL_PATH", levels.c_str(), 1);
    std::istringstream in(repeat(pseudo_random(100, 6), 3000));
    std::ostringstream out;
    const lmzip::Stats s = lmzip::compress(in, out, o);
    unsetenv("LMZIP_MODEL_PATH");
    std::cerr << "network_context_mix.lmz: 3000 -> " << out.str().size() << " bytes, " << s.context_mixing_frames
              << " context-mixing frames\n";
    write_file(root + "/decompress/network_context_mix.lmz", out.str());
  }

  // Round trip: the first byte picks model and chunk size (fuzz_roundtrip.cpp).
  write_file(root + "/roundtrip/empty", "");
  write_file(root + "/roundtrip/one_byte", "\x01");
  write_file(root + "/roundtrip/text_byte_model", std::string("\x20", 1) + repeat(text, 600));
  write_file(root + "/roundtrip/text_token_model", std::string("\x21", 1) + repeat(text, 600));
  write_file(root + "/roundtrip/random", pseudo_random(800, 2));
  write_file(root + "/roundtrip/runs_small_chunks",
             std::string("\x02", 1) + std::string(400, favoured) + text);
  write_file(root + "/roundtrip/image", pseudo_random(1, 9) + test_image(40, 30, 3, 9));
  write_file(root + "/roundtrip/audio", pseudo_random(1, 10) + test_wav(700, 1, 16, 10));
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  write_file(root + "/roundtrip/all_bytes", "\xfe" + all);

  // The chunk's original size (two bytes), a mode-13 payload's header and
  // the inflated bytes in place of its coded bytes (fuzz_inflated.cpp).
  const auto* deflated_bytes = reinterpret_cast<const std::uint8_t*>(deflated.data());
  const lmzip::InflatedBuffer inflated =
      lmzip::inflate_streams(deflated_bytes, deflated.size(), lmzip::kContextMixingMaxBytes);
  const std::vector<std::uint8_t> payload = lmzip::inflated_context_mixing_encode(inflated);
  lmzip::InflatedHeader header;
  if (!lmzip::read_inflated_header(payload.data(), payload.size(), deflated.size(), &header, nullptr)) return 1;
  const std::string sized = {static_cast<char>(deflated.size() & 0xFF), static_cast<char>(deflated.size() >> 8)};
  write_file(root + "/inflated/two_streams",
             sized + std::string(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(header.header_size)) +
                 std::string(inflated.bytes.begin(), inflated.bytes.end()));

  std::system(("rm -rf '" + models + "'").c_str());
  return 0;
}

// Tiny fixed-seed models shared by the fuzz targets and their seed-corpus
// generator. random_model() is deterministic, so the files (and their
// SHA-256 ids, which the seed .lmz streams name) are the same on every run.
#pragma once
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "../common/small_models.h"
#include "model/random_model.h"

namespace lmzip::fuzz {

// The decompressor's memory limit under fuzzing (as `-M 64MiB`): the tiny
// models fit it many times over, a frame's declared tables may not.
constexpr std::uint64_t kMemoryLimit = std::uint64_t{64} << 20;

// Byte model (V = 256) and a token model (V = 300: the 256 bytes, then
// 2- and 3-byte pieces, so decoding one symbol can yield several bytes).
inline ModelFile byte_model() { return random_model(testing::smallest_config(256), 1); }
inline ModelFile token_model() { return random_model(testing::smallest_config(300), 2); }

// Writes both models into a fresh folder under $TMPDIR and returns it; the
// byte model is <dir>/byte.lmzm, the token model <dir>/token.lmzm.
inline std::string write_models() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/lmzip-fuzz-models." + std::to_string(::getpid());
  std::string mkdir = "mkdir -p '" + dir + "'";
  if (std::system(mkdir.c_str()) != 0) std::abort();
  byte_model().save(dir + "/byte.lmzm");
  token_model().save(dir + "/token.lmzm");
  return dir;
}

// write_models() for a fuzz target: the folder is removed when the process
// exits normally (libFuzzer calls exit() at the end of a run).
inline std::string write_models_for_process() {
  static std::string dir = write_models();
  std::atexit([] { std::system(("rm -rf '" + dir + "'").c_str()); });
  return dir;
}

}  // namespace lmzip::fuzz

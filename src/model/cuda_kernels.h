// The integer glue of the CUDA predictor (cuda_predictor.cu), callable from
// host C++ that knows nothing of CUDA: plain pointers to device memory and the
// cudaStream_t passed as void*. Every kernel is docs/model-format.md's integer
// network, bit for bit; cuda_predictor.cpp runs the GEMMs between them.
#pragma once
#include <cstdint>

#include "model/predictor.h"

namespace lmzip::cuda_kernels {

// Inner sizes above 1024 are split into blocks whose float32 GEMM results are
// summed as int32 (as on the CPU): at most 16384 / 1024 blocks.
constexpr int kMaxBlocks = 16;

// The exact accumulator of a linear: acc(row, col) = sum over b of
// (int32) block[b][row * ld + col], each block an integer-valued float32 GEMM result.
struct AccView {
  const float* block[kMaxBlocks];
  int blocks;
  int ld;
};

// Per-row step inputs, in device memory: slot, symbol, position t.
struct Rows {
  const std::int32_t* slot;
  const std::int32_t* symbol;
  const std::int32_t* position;
};

// Copies the exponential tables to constant memory (once per process).
void upload_tables();

// r = embedding row of each symbol (step 1); x = norm(r, gain) as float.
void embed_norm(int n, Rows rows, const std::int8_t* emb_weight, const std::int32_t* emb_multiplier,
                unsigned emb_shift, int width, std::int32_t* residual, const std::int32_t* gain, float* x,
                void* stream);

// residual_add(r, acc of a d-wide linear), then x = norm(r, gain) as float.
void residual_norm(int n, const AccView& acc, const std::int32_t* multiplier, unsigned shift, int width,
                   std::int32_t* residual, const std::int32_t* gain, float* x, void* stream);

struct AttentionArgs {
  AccView qkv;        // columns: q [heads*dh], then k [kv_heads*dh], then v [kv_heads*dh]
  const std::int32_t* q_multiplier;
  const std::int32_t* k_multiplier;
  const std::int32_t* v_multiplier;
  unsigned q_shift, k_shift, v_shift;
  std::int8_t* keys;    // [slot][window][kv_heads * dh]
  std::int8_t* values;  // same layout
  int window, heads, kv_heads, head_dim;
  const std::int32_t* score_multiplier;  // [heads]
  const std::int32_t* slope;             // [heads]
  unsigned score_shift;
  float* out;  // [n][heads * dh]
};
// Requantizes q, k, v; stores k and v at position t; attends (steps 2.2, 2.3).
void attention(int n, Rows rows, const AttentionArgs& args, void* stream);

// hidden = squared ReLU of w1's accumulator (step 2.5), as float.
void squared_relu(int n, const AccView& acc, const std::int32_t* multiplier, unsigned shift, int ffn, float* hidden,
                  void* stream);

// The frequency tables (steps 3 and 4) and each table's total.
void frequencies(int n, const AccView& acc, const std::int32_t* multiplier, unsigned shift, int vocab,
                 std::uint32_t* freqs, std::uint64_t* totals, void* stream);

// The coding interface (model/predictor.h) over the tables frequencies() left:
// out[i] = the range of symbols[i] in table i / per_row, for i < n.
void ranges(int n, const std::uint32_t* freqs, const std::uint64_t* totals, int vocab, int per_row,
            const std::uint32_t* symbols, SymbolRange* out, void* stream);
// out[i] = the range of table i that holds targets[i].
void find(int n, const std::uint32_t* freqs, const std::uint64_t* totals, int vocab, const std::uint64_t* targets,
          SymbolRange* out, void* stream);

// Throws std::runtime_error naming `what` if a launch failed.
void check(const char* what);

}  // namespace lmzip::cuda_kernels

// The integer glue of the CUDA predictor: docs/model-format.md's "The integer
// network" as fused kernels, one pass over each row per step. These mirror
// cpu_predictor.cpp and reference_network.cpp operation for operation, with
// the same widths (int64 wherever the definition multiplies by a multiplier or
// sums squares), the same rounding rules (src/model/int_ops.h) and the same
// exponential tables (src/model/exp_tables.h, copied to constant memory).
// Reductions are over integers, so their order cannot change a result.
#include <cuda_runtime.h>

#include <climits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "model/cuda_kernels.h"
#include "model/exp_tables.h"

namespace lmzip::cuda_kernels {

namespace {

__constant__ std::int32_t c_att_exp[160];
__constant__ std::uint32_t c_out_exp[384];

// ---- integer primitives -----------------------------------------------------
// Device copies of the host definitions in src/model/int_ops.h, which they must
// match bit for bit; tests/model/cuda_predictor_test.cpp compares the tables.

__device__ __forceinline__ long long round_shift(long long x, unsigned s) {
  return (x + (1LL << (s - 1))) >> s;  // arithmetic (flooring) shift on signed
}

__device__ __forceinline__ long long floor_div(long long a, long long b) {  // b > 0
  const long long q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

__device__ __forceinline__ long long round_div(long long a, long long b) { return floor_div(2 * a + b, 2 * b); }

__device__ __forceinline__ long long clampll(long long x, long long lo, long long hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

// floor(sqrt(n)) for 0 <= n < 2^62: double estimate, integer corrections.
__device__ __forceinline__ long long isqrt(long long n) {
  long long r = static_cast<long long>(sqrt(static_cast<double>(n)));
  while (r > 0 && r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

constexpr long long kResidualLimit = 1LL << 24;

// An integer-valued float32 GEMM result back to its integer (exact).
__device__ __forceinline__ int acc_at(const AccView& a, long long idx) {
  int s = 0;
  for (int b = 0; b < a.blocks; ++b) s += static_cast<int>(a.block[b][idx]);
  return s;
}

// ---- block reductions over int64 (blockDim.x a multiple of 32) ------------

struct Sum {
  __device__ long long operator()(long long a, long long b) const { return a + b; }
};
struct Max {
  __device__ long long operator()(long long a, long long b) const { return a > b ? a : b; }
};

template <class Op>
__device__ long long block_reduce(long long v, Op op, long long identity, long long* scratch /* [32] */) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, o));
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? scratch[lane] : identity;
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  const long long result = scratch[0];
  __syncthreads();  // scratch may be reused right after
  return result;
}

// x[c] = clamp(round_div(r[c] * g[c], rms * 256), -127, 127), rms = max(1, isqrt(ss / d)).
// Each thread reads back only the r[c] it wrote itself.
__device__ void norm_row(const std::int32_t* r, const std::int32_t* gain, float* x, long long ss, int d) {
  const long long rms = max(1LL, isqrt(ss / d));
  const long long den = rms * 256;
  for (int c = threadIdx.x; c < d; c += blockDim.x)
    x[c] = static_cast<float>(clampll(round_div(static_cast<long long>(r[c]) * gain[c], den), -127, 127));
}

constexpr int kRowThreads = 256;

__global__ void embed_norm_kernel(Rows rows, const std::int8_t* emb_weight, const std::int32_t* emb_multiplier,
                                  unsigned emb_shift, int d, std::int32_t* residual, const std::int32_t* gain,
                                  float* x) {
  __shared__ long long scratch[32];
  const int i = blockIdx.x;
  const int s = rows.symbol[i];
  const std::int8_t* w = emb_weight + static_cast<long long>(s) * d;
  const long long mult = emb_multiplier[s];
  std::int32_t* r = residual + static_cast<long long>(i) * d;
  long long ss = 0;
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    const std::int32_t v = static_cast<std::int32_t>(round_shift(w[c] * mult, emb_shift));
    r[c] = v;
    ss += static_cast<long long>(v) * v;
  }
  ss = block_reduce(ss, Sum{}, 0, scratch);
  norm_row(r, gain, x + static_cast<long long>(i) * d, ss, d);
}

__global__ void residual_norm_kernel(AccView acc, const std::int32_t* multiplier, unsigned shift, int d,
                                     std::int32_t* residual, const std::int32_t* gain, float* x) {
  __shared__ long long scratch[32];
  const int i = blockIdx.x;
  std::int32_t* r = residual + static_cast<long long>(i) * d;
  const long long row = static_cast<long long>(i) * acc.ld;
  long long ss = 0;
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    const long long a = acc_at(acc, row + c);
    const std::int32_t v = static_cast<std::int32_t>(
        clampll(r[c] + round_shift(a * multiplier[c], shift), -kResidualLimit, kResidualLimit));
    r[c] = v;
    ss += static_cast<long long>(v) * v;
  }
  ss = block_reduce(ss, Sum{}, 0, scratch);
  norm_row(r, gain, x + static_cast<long long>(i) * d, ss, d);
}

// ---- attention --------------------------------------------------------------
// One block per (stream, query head). z of the first kTile positions is kept in
// shared memory; longer windows recompute q.k in tiles (same integers).

constexpr int kAttThreads = 128;
constexpr int kTile = 2048;
constexpr int kMaxHeadDim = 256;  // docs/model-format.md: head_dim 4..256 (== 2 * kAttThreads)

__global__ void __launch_bounds__(kAttThreads) attention_kernel(Rows rows, AttentionArgs a) {
  __shared__ int q_s[kMaxHeadDim], kc_s[kMaxHeadDim], vc_s[kMaxHeadDim];
  __shared__ long long z_s[kTile];
  __shared__ long long part[kAttThreads];
  __shared__ long long scratch[32];

  const int tid = threadIdx.x, bd = blockDim.x;
  const int i = blockIdx.x, h = blockIdx.y;
  const int dh = a.head_dim, W = a.window;
  const int group = a.heads / a.kv_heads;
  const int g = h / group;
  const int kv = a.kv_heads * dh;
  const long long slot = rows.slot[i];
  const long long t = rows.position[i];
  const int tw = static_cast<int>(t % W);  // the current position's row
  const int span = static_cast<int>(t + 1 < W ? t + 1 : W);

  // Step 2.2: requant8 of q (this head), k and v (its kv head).
  const long long row = static_cast<long long>(i) * a.qkv.ld;
  const int col_q = h * dh, col_k = a.heads * dh + g * dh, col_v = a.heads * dh + kv + g * dh;
  for (int e = tid; e < dh; e += bd) {
    q_s[e] = static_cast<int>(clampll(
        round_shift(static_cast<long long>(acc_at(a.qkv, row + col_q + e)) * a.q_multiplier[h * dh + e], a.q_shift),
        -127, 127));
    kc_s[e] = static_cast<int>(clampll(
        round_shift(static_cast<long long>(acc_at(a.qkv, row + col_k + e)) * a.k_multiplier[g * dh + e], a.k_shift),
        -127, 127));
    vc_s[e] = static_cast<int>(clampll(
        round_shift(static_cast<long long>(acc_at(a.qkv, row + col_v + e)) * a.v_multiplier[g * dh + e], a.v_shift),
        -127, 127));
  }
  __syncthreads();

  // The cache rows of this stream and kv head. Row tw is written by the first
  // head of the group; every block reads the current k and v from shared
  // memory instead, so no block reads a row another block writes.
  std::int8_t* keys = a.keys + slot * W * kv + g * dh;
  std::int8_t* values = a.values + slot * W * kv + g * dh;
  if (h % group == 0) {
    for (int e = tid; e < dh; e += bd) {
      keys[static_cast<long long>(tw) * kv + e] = static_cast<std::int8_t>(kc_s[e]);
      values[static_cast<long long>(tw) * kv + e] = static_cast<std::int8_t>(vc_s[e]);
    }
  }

  const long long smult = a.score_multiplier[h];
  const long long slope = a.slope[h];
  auto zval = [&](int r) -> long long {
    int dot = 0;  // |q.k| <= 127^2 * 256 < 2^31
    if (r == tw) {
      for (int e = 0; e < dh; ++e) dot += q_s[e] * kc_s[e];
    } else {
      const std::int8_t* k = keys + static_cast<long long>(r) * kv;
      for (int e = 0; e < dh; ++e) dot += q_s[e] * static_cast<int>(k[e]);
    }
    const long long dist = tw >= r ? tw - r : tw + W - r;
    return round_shift(static_cast<long long>(dot) * smult, a.score_shift) - slope * dist;
  };

  // Step 2.3: z_j, then m = max_j z_j.
  long long zmax = LLONG_MIN;
  for (int r = tid; r < span; r += bd) {
    const long long z = zval(r);
    if (r < kTile) z_s[r] = z;
    zmax = z > zmax ? z : zmax;
  }
  zmax = block_reduce(zmax, Max{}, LLONG_MIN, scratch);

  // p_j = ATT_EXP[min((m - z_j + 8) >> 4, 159)]; acc[c] = sum_j p_j * v_j[c], psum = sum_j p_j.
  const bool wide = dh > bd;
  const int stripes = wide ? 1 : bd / dh;
  const int e0 = wide ? tid : tid % dh;
  const int stripe = wide ? 0 : tid / dh;
  const bool active = stripe < stripes;
  const int e1 = wide ? tid + bd : dh;  // a second column when head_dim > blockDim
  long long acc0 = 0, acc1 = 0, psum = 0;
  for (int base = 0; base < span; base += kTile) {
    const int len = span - base < kTile ? span - base : kTile;
    if (base > 0) __syncthreads();  // the previous tile's p are read by all
    for (int r = tid; r < len; r += bd) {
      const long long z = base == 0 ? z_s[r] : zval(base + r);
      long long idx = (zmax - z + 8) >> 4;
      idx = idx < 159 ? idx : 159;
      const long long p = c_att_exp[idx];
      z_s[r] = p;
      psum += p;
    }
    __syncthreads();
    if (active) {
      for (int rr = stripe; rr < len; rr += stripes) {
        const long long p = z_s[rr];
        if (p == 0) continue;
        const int r = base + rr;
        if (r == tw) {
          acc0 += p * vc_s[e0];
          if (e1 < dh) acc1 += p * vc_s[e1];
        } else {
          const std::int8_t* v = values + static_cast<long long>(r) * kv;
          acc0 += p * v[e0];
          if (e1 < dh) acc1 += p * v[e1];
        }
      }
    }
  }
  psum = block_reduce(psum, Sum{}, 0, scratch);

  // o_h[c] = round_div(acc[c], psum).
  float* out = a.out + static_cast<long long>(i) * a.heads * dh + h * dh;
  if (wide) {
    out[e0] = static_cast<float>(round_div(acc0, psum));
    if (e1 < dh) out[e1] = static_cast<float>(round_div(acc1, psum));
  } else {
    part[tid] = active ? acc0 : 0;
    __syncthreads();
    if (tid < dh) {
      long long total = 0;
      for (int s = 0; s < stripes; ++s) total += part[s * dh + tid];
      out[tid] = static_cast<float>(round_div(total, psum));
    }
  }
}

// ---- feed-forward and output -----------------------------------------------

__global__ void squared_relu_kernel(long long total, AccView acc, const std::int32_t* multiplier, unsigned shift,
                                    int ffn, float* hidden) {
  for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long row = idx / ffn;
    const int o = static_cast<int>(idx - row * ffn);
    const int a_raw = acc_at(acc, row * acc.ld + o);
    const long long a = a_raw > 0 ? a_raw : 0;
    long long t = round_shift(a * multiplier[o], shift);
    t = t < 4095 ? t : 4095;
    const long long u = (t * t + 128) >> 8;
    hidden[idx] = static_cast<float>(u < 127 ? u : 127);
  }
}

constexpr int kFreqThreads = 512;

__global__ void frequencies_kernel(AccView acc, const std::int32_t* multiplier, unsigned shift, int V,
                                   std::uint32_t* freqs, std::uint64_t* totals) {
  __shared__ long long scratch[32];
  const int i = blockIdx.x;
  const long long row = static_cast<long long>(i) * acc.ld;
  long long zmax = LLONG_MIN;
  for (int o = threadIdx.x; o < V; o += blockDim.x) {
    const long long z = round_shift(static_cast<long long>(acc_at(acc, row + o)) * multiplier[o], shift);
    zmax = z > zmax ? z : zmax;
  }
  zmax = block_reduce(zmax, Max{}, LLONG_MIN, scratch);
  std::uint32_t* f = freqs + static_cast<long long>(i) * V;
  long long sum = 0;
  for (int o = threadIdx.x; o < V; o += blockDim.x) {
    const long long z = round_shift(static_cast<long long>(acc_at(acc, row + o)) * multiplier[o], shift);
    long long idx = zmax - z;
    idx = idx < 383 ? idx : 383;
    f[o] = 1 + c_out_exp[idx];
    sum += f[o];
  }
  sum = block_reduce(sum, Sum{}, 0, scratch);
  if (threadIdx.x == 0) totals[i] = static_cast<std::uint64_t>(sum);
}

// out[i]: the range of symbols[i] in table i / per_row.
__global__ void ranges_kernel(const std::uint32_t* freqs, const std::uint64_t* totals, int V, int per_row,
                              const std::uint32_t* symbols, SymbolRange* out) {
  __shared__ long long scratch[32];
  const int i = blockIdx.x;
  const int table = i / per_row;
  const std::uint32_t* f = freqs + static_cast<long long>(table) * V;
  const int s = static_cast<int>(symbols[i]);
  long long below = 0;
  for (int o = threadIdx.x; o < s; o += blockDim.x) below += f[o];
  below = block_reduce(below, Sum{}, 0, scratch);
  if (threadIdx.x == 0) {
    SymbolRange r;
    r.below = static_cast<std::uint64_t>(below);
    r.total = totals[table];
    r.freq = f[s];
    r.symbol = static_cast<std::uint32_t>(s);
    out[i] = r;
  }
}

// out[i]: the symbol of table i whose range holds targets[i]. Each thread
// sums a contiguous segment of the table; a block-wide exclusive scan of
// those sums tells which thread's segment holds the target, and that thread
// walks it.
__global__ void find_kernel(const std::uint32_t* freqs, const std::uint64_t* totals, int V,
                            const std::uint64_t* targets, SymbolRange* out) {
  __shared__ long long warp_start[32];
  const int i = blockIdx.x;
  const std::uint32_t* f = freqs + static_cast<long long>(i) * V;
  const long long total = static_cast<long long>(totals[i]);
  long long target = static_cast<long long>(targets[i]);
  if (target >= total) target = total - 1;  // the decoder never asks this; stay in the table
  const int seg = (V + blockDim.x - 1) / blockDim.x;
  const int lo = min(V, static_cast<int>(threadIdx.x) * seg), hi = min(V, lo + seg);
  long long sum = 0;
  for (int o = lo; o < hi; ++o) sum += f[o];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  long long inclusive = sum;
  for (int o = 1; o < 32; o <<= 1) {
    const long long t = __shfl_up_sync(0xffffffffu, inclusive, o);
    if (lane >= o) inclusive += t;
  }
  if (lane == 31) warp_start[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    const long long w = lane < warps ? warp_start[lane] : 0;
    long long wi = w;
    for (int o = 1; o < 32; o <<= 1) {
      const long long t = __shfl_up_sync(0xffffffffu, wi, o);
      if (lane >= o) wi += t;
    }
    if (lane < warps) warp_start[lane] = wi - w;
  }
  __syncthreads();
  long long below = warp_start[warp] + inclusive - sum;
  if (lo >= hi || target < below || target >= below + sum) return;
  for (int o = lo; o < hi; ++o) {
    if (target < below + f[o]) {
      SymbolRange r;
      r.below = static_cast<std::uint64_t>(below);
      r.total = static_cast<std::uint64_t>(total);
      r.freq = f[o];
      r.symbol = static_cast<std::uint32_t>(o);
      out[i] = r;
      return;
    }
    below += f[o];
  }
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

void check(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

void upload_tables() {
  // Constant memory is per device: upload once for each device used.
  static std::mutex mutex;
  static std::set<int> done;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) check("cudaGetDevice");
  std::lock_guard<std::mutex> lock(mutex);
  if (done.count(device)) return;
  if (cudaMemcpyToSymbol(c_att_exp, kAttExp, sizeof(kAttExp)) != cudaSuccess ||
      cudaMemcpyToSymbol(c_out_exp, kOutExp, sizeof(kOutExp)) != cudaSuccess)
    check("exp tables to constant memory");
  done.insert(device);
}

void embed_norm(int n, Rows rows, const std::int8_t* emb_weight, const std::int32_t* emb_multiplier,
                unsigned emb_shift, int width, std::int32_t* residual, const std::int32_t* gain, float* x,
                void* stream) {
  embed_norm_kernel<<<n, kRowThreads, 0, as_stream(stream)>>>(rows, emb_weight, emb_multiplier, emb_shift, width,
                                                             residual, gain, x);
  check("embed_norm");
}

void residual_norm(int n, const AccView& acc, const std::int32_t* multiplier, unsigned shift, int width,
                   std::int32_t* residual, const std::int32_t* gain, float* x, void* stream) {
  residual_norm_kernel<<<n, kRowThreads, 0, as_stream(stream)>>>(acc, multiplier, shift, width, residual, gain, x);
  check("residual_norm");
}

void attention(int n, Rows rows, const AttentionArgs& args, void* stream) {
  if (args.head_dim > kMaxHeadDim) throw std::invalid_argument("cuda attention: head_dim above 256");
  attention_kernel<<<dim3(n, args.heads), kAttThreads, 0, as_stream(stream)>>>(rows, args);
  check("attention");
}

void squared_relu(int n, const AccView& acc, const std::int32_t* multiplier, unsigned shift, int ffn, float* hidden,
                  void* stream) {
  const long long total = static_cast<long long>(n) * ffn;
  const int threads = 256;
  const long long blocks = (total + threads - 1) / threads;
  squared_relu_kernel<<<static_cast<unsigned>(blocks < 65535 * 16 ? blocks : 65535 * 16), threads, 0,
                        as_stream(stream)>>>(total, acc, multiplier, shift, ffn, hidden);
  check("squared_relu");
}

void frequencies(int n, const AccView& acc, const std::int32_t* multiplier, unsigned shift, int vocab,
                 std::uint32_t* freqs, std::uint64_t* totals, void* stream) {
  frequencies_kernel<<<n, kFreqThreads, 0, as_stream(stream)>>>(acc, multiplier, shift, vocab, freqs, totals);
  check("frequencies");
}

void ranges(int n, const std::uint32_t* freqs, const std::uint64_t* totals, int vocab, int per_row,
            const std::uint32_t* symbols, SymbolRange* out, void* stream) {
  ranges_kernel<<<n, kFreqThreads, 0, as_stream(stream)>>>(freqs, totals, vocab, per_row, symbols, out);
  check("ranges");
}

void find(int n, const std::uint32_t* freqs, const std::uint64_t* totals, int vocab, const std::uint64_t* targets,
          SymbolRange* out, void* stream) {
  find_kernel<<<n, kFreqThreads, 0, as_stream(stream)>>>(freqs, totals, vocab, targets, out);
  check("find");
}

}  // namespace lmzip::cuda_kernels

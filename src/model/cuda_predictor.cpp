// The CUDA predictor (docs/gpu.md). The same steps as cpu_predictor.cpp:
// matrix products as float32 GEMMs in libtorch (at::mm on the GPU) over
// integer values, exact because every partial sum stays below 2^24 (inner
// sizes split at 1024, blocks summed as int32) and TF32 is off, so cuBLAS sums
// in IEEE float32 whatever its kernel and split-K order; everything between
// the products is the integer code of cuda_predictor.cu. Built only with
// -DLMZIP_CUDA=ON (cmake/cuda.cmake); cuda_predictor_stub.cpp otherwise.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/cuda_kernels.h"
#include "model/cuda_predictor.h"
#include "model/network.h"

namespace lmzip {

namespace {

namespace ck = cuda_kernels;

constexpr std::uint32_t kMaxExactInner = 1024;

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

// Exactness of the float32 GEMMs needs IEEE float32 products and sums: no
// TF32, no reduced-precision reductions. These are process-wide settings of
// libtorch; lmzip never wants them on.
void exact_matmul_settings() {
  auto& ctx = at::globalContext();
  ctx.setAllowTF32CuBLAS(false);
  ctx.setAllowTF32CuDNN(false);
  ctx.setFloat32MatmulPrecision("highest");
  ctx.setAllowFP16ReductionCuBLAS(false);
  ctx.setAllowBF16ReductionCuBLAS(false);
  if (ctx.allowTF32CuBLAS()) throw std::runtime_error("cuda predictor: libtorch keeps TF32 on for cuBLAS");
}

// Several linears that read the same input, as one GEMM per 1024-wide block of
// the inner dimension: weight blocks [block_in, sum of outs], transposed for x @ W^T.
struct GpuLinear {
  std::vector<at::Tensor> weight_blocks;  // each [block_in, out], float32 on the device
  std::vector<std::uint32_t> block_start;
  std::uint32_t in = 0, out = 0;

  void init(const std::vector<const QuantLinear*>& parts, const at::Device& device) {
    in = parts.front()->in;
    out = 0;
    for (const QuantLinear* p : parts) out += p->out;
    at::Tensor w = at::empty({out, in}, at::kFloat);
    float* dst = w.data_ptr<float>();
    for (const QuantLinear* p : parts) {
      if (p->in != in) throw std::logic_error("cuda predictor: fused linears differ in input size");
      for (std::int8_t v : p->weight) *dst++ = v;
    }
    for (std::uint32_t start = 0; start < in; start += kMaxExactInner) {
      const std::uint32_t len = std::min(kMaxExactInner, in - start);
      weight_blocks.push_back(w.narrow(1, start, len).t().contiguous().to(device));
      block_start.push_back(start);
    }
    if (weight_blocks.size() > static_cast<std::size_t>(ck::kMaxBlocks))
      throw std::invalid_argument("cuda predictor: inner size above 16384");
  }

  // results: one [max_streams, out] float buffer per block, shared by every
  // layer's linear of this shape (each is consumed before the next is made).
  std::vector<at::Tensor> make_results(std::uint32_t max_streams, const at::Device& device) const {
    std::vector<at::Tensor> r;
    for (std::size_t b = 0; b < weight_blocks.size(); ++b)
      r.push_back(at::zeros({max_streams, out}, at::TensorOptions().dtype(at::kFloat).device(device)));
    return r;
  }

  // x: [rows >= n, in] floats with integer values.
  ck::AccView run(const at::Tensor& x, std::int64_t n, std::vector<at::Tensor>& results) const {
    ck::AccView view{};
    view.blocks = static_cast<int>(weight_blocks.size());
    view.ld = static_cast<int>(out);
    for (std::size_t b = 0; b < weight_blocks.size(); ++b) {
      at::Tensor dst = results[b].narrow(0, 0, n);
      at::Tensor src = weight_blocks.size() == 1
                           ? x.narrow(0, 0, n)
                           : x.narrow(0, 0, n).narrow(1, block_start[b], weight_blocks[b].size(0));
      at::mm_out(dst, src, weight_blocks[b]);
      view.block[b] = results[b].data_ptr<float>();
    }
    return view;
  }
};

at::Tensor device_i32(const std::vector<std::int32_t>& v, const at::Device& device) {
  at::Tensor t = at::empty({static_cast<std::int64_t>(v.size())}, at::kInt);
  std::memcpy(t.data_ptr<std::int32_t>(), v.data(), v.size() * sizeof(std::int32_t));
  return t.to(device);
}

at::Tensor device_i32(const std::vector<const std::vector<std::int32_t>*>& parts, const at::Device& device) {
  std::vector<std::int32_t> all;
  for (const auto* p : parts) all.insert(all.end(), p->begin(), p->end());
  return device_i32(all, device);
}

struct GpuLayer {
  GpuLinear qkv, wo, w1, w2;
  at::Tensor q_mult, k_mult, v_mult, wo_mult, w1_mult, w2_mult;
  at::Tensor attn_norm, ffn_norm, score_mult, slope;
  at::Tensor keys, values;  // int8 [max_streams, window, kv_heads * head_dim]
};

// Pinned host memory for the step's inputs and outputs.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
    cuda_check(cudaMallocHost(&data_, std::max<std::size_t>(bytes, 1)), "cudaMallocHost");
  }
  ~PinnedBuffer() { cudaFreeHost(data_); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  template <class T>
  T* as() {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_;
};

class CudaPredictor final : public Predictor {
 public:
  CudaPredictor(const ModelFile& model, std::uint32_t max_streams, std::size_t ranges_per_row)
      : model_(model),
        cfg_(model.config),
        max_streams_(max_streams),
        max_ranges_per_row_(std::max<std::size_t>(ranges_per_row, 1)),
        device_(at::kCUDA, c10::cuda::current_device()),
        stream_(c10::cuda::getStreamFromPool(false, device_.index())),
        position_(max_streams, 0),
        host_rows_(std::size_t{3} * max_streams * sizeof(std::int32_t)),
        host_freqs_(std::size_t{max_streams} * model.config.vocab_size * sizeof(std::uint32_t)),
        host_io_(std::size_t{max_streams} * max_ranges_per_row_ * sizeof(SymbolRange)) {
    if (max_streams == 0) throw std::invalid_argument("cuda predictor: max_streams must be positive");
    exact_matmul_settings();
    c10::cuda::CUDAGuard device_guard(device_);
    c10::cuda::CUDAStreamGuard stream_guard(stream_);
    ck::upload_tables();
    const auto i32 = at::TensorOptions().dtype(at::kInt).device(device_);
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device_);
    const std::uint32_t kv = cfg_.kv_heads * cfg_.head_dim;

    {
      const QuantLinear& e = model.embedding;
      at::Tensor w = at::empty({e.out, e.in}, at::kChar);
      std::memcpy(w.data_ptr<std::int8_t>(), e.weight.data(), e.weight.size());
      emb_weight_ = w.to(device_);
      emb_mult_ = device_i32(e.multiplier, device_);
    }
    layers_.resize(cfg_.layers);
    for (std::uint32_t l = 0; l < cfg_.layers; ++l) {
      const LayerWeights& w = model.layers[l];
      GpuLayer& s = layers_[l];
      s.qkv.init({&w.wq, &w.wk, &w.wv}, device_);
      s.wo.init({&w.wo}, device_);
      s.w1.init({&w.w1}, device_);
      s.w2.init({&w.w2}, device_);
      s.q_mult = device_i32(w.wq.multiplier, device_);
      s.k_mult = device_i32(w.wk.multiplier, device_);
      s.v_mult = device_i32(w.wv.multiplier, device_);
      s.wo_mult = device_i32(w.wo.multiplier, device_);
      s.w1_mult = device_i32(w.w1.multiplier, device_);
      s.w2_mult = device_i32(w.w2.multiplier, device_);
      s.attn_norm = device_i32(w.attn_norm, device_);
      s.ffn_norm = device_i32(w.ffn_norm, device_);
      s.score_mult = device_i32(w.attention.score_multiplier, device_);
      s.slope = device_i32(w.attention.slope, device_);
      const auto i8 = at::TensorOptions().dtype(at::kChar).device(device_);
      s.keys = at::zeros({max_streams, cfg_.window, kv}, i8);
      s.values = at::zeros({max_streams, cfg_.window, kv}, i8);
    }
    final_norm_ = device_i32(model.final_norm, device_);
    output_.init({&model.output}, device_);
    out_mult_ = device_i32(model.output.multiplier, device_);

    res_qkv_ = layers_[0].qkv.make_results(max_streams, device_);
    res_wo_ = layers_[0].wo.make_results(max_streams, device_);
    res_w1_ = layers_[0].w1.make_results(max_streams, device_);
    res_w2_ = layers_[0].w2.make_results(max_streams, device_);
    res_out_ = output_.make_results(max_streams, device_);
    rows_ = at::zeros({3 * static_cast<std::int64_t>(max_streams)}, i32);
    residual_ = at::zeros({max_streams, cfg_.width}, i32);
    x_ = at::zeros({max_streams, cfg_.width}, f32);
    attn_ = at::zeros({max_streams, cfg_.heads * cfg_.head_dim}, f32);
    hidden_ = at::zeros({max_streams, cfg_.ffn}, f32);
    freqs_ = at::zeros({max_streams, cfg_.vocab_size}, i32);
    totals_ = at::zeros({max_streams}, at::TensorOptions().dtype(at::kLong).device(device_));
    step_symbols_ = at::zeros({static_cast<std::int64_t>(max_streams * max_ranges_per_row_)}, i32);
    step_targets_ = at::zeros({max_streams}, at::TensorOptions().dtype(at::kLong).device(device_));
    ranges_ = at::zeros({static_cast<std::int64_t>(max_streams * max_ranges_per_row_ * sizeof(SymbolRange))},
                        at::TensorOptions().dtype(at::kByte).device(device_));
    cuda_check(cudaStreamSynchronize(stream_.stream()), "weights to the device");
  }

  std::uint32_t vocab_size() const override { return cfg_.vocab_size; }
  std::uint32_t max_streams() const override { return max_streams_; }
  void reset(std::uint32_t slot) override { position_.at(slot) = 0; }

  // Queues the step on the device; the tables stay there.
  void advance(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count) override {
    set_advanced_rows(0);
    if (count == 0) return;
    if (count > max_streams_) throw std::invalid_argument("cuda predictor: too many streams");
    for (std::size_t i = 0; i < count; ++i) {
      if (slots[i] >= max_streams_ || symbols[i] > cfg_.vocab_size)
        throw std::out_of_range("cuda predictor: slot or symbol out of range");
    }
    const auto n = static_cast<std::int64_t>(count);
    const int ni = static_cast<int>(count);
    c10::cuda::CUDAGuard device_guard(device_);
    c10::cuda::CUDAStreamGuard stream_guard(stream_);
    void* const stream = stream_.stream();

    // Step inputs: slots, symbols, positions, one copy (from pinned memory,
    // which the previous step's copy must have left).
    if (queued_) sync("step");
    std::int32_t* host = host_rows_.as<std::int32_t>();
    for (std::size_t i = 0; i < count; ++i) {
      host[i] = static_cast<std::int32_t>(slots[i]);
      host[count + i] = static_cast<std::int32_t>(symbols[i]);
      host[2 * count + i] = static_cast<std::int32_t>(position_[slots[i]]);
    }
    std::int32_t* dev_rows = rows_.data_ptr<std::int32_t>();
    cuda_check(cudaMemcpyAsync(dev_rows, host, 3 * count * sizeof(std::int32_t), cudaMemcpyHostToDevice,
                               stream_.stream()),
               "step inputs to the device");
    const ck::Rows rows{dev_rows, dev_rows + count, dev_rows + 2 * count};

    std::int32_t* residual = residual_.data_ptr<std::int32_t>();
    float* x = x_.data_ptr<float>();
    const int d = static_cast<int>(cfg_.width);
    ck::embed_norm(ni, rows, emb_weight_.data_ptr<std::int8_t>(), emb_mult_.data_ptr<std::int32_t>(),
                   model_.embedding.shift, d, residual, layers_[0].attn_norm.data_ptr<std::int32_t>(), x, stream);
    for (std::uint32_t l = 0; l < cfg_.layers; ++l) {
      GpuLayer& s = layers_[l];
      const LayerWeights& w = model_.layers[l];
      // x holds norm(r, attn_norm).
      ck::AttentionArgs a{};
      a.qkv = s.qkv.run(x_, n, res_qkv_);
      a.q_multiplier = s.q_mult.data_ptr<std::int32_t>();
      a.k_multiplier = s.k_mult.data_ptr<std::int32_t>();
      a.v_multiplier = s.v_mult.data_ptr<std::int32_t>();
      a.q_shift = w.wq.shift;
      a.k_shift = w.wk.shift;
      a.v_shift = w.wv.shift;
      a.keys = s.keys.data_ptr<std::int8_t>();
      a.values = s.values.data_ptr<std::int8_t>();
      a.window = static_cast<int>(cfg_.window);
      a.heads = static_cast<int>(cfg_.heads);
      a.kv_heads = static_cast<int>(cfg_.kv_heads);
      a.head_dim = static_cast<int>(cfg_.head_dim);
      a.score_multiplier = s.score_mult.data_ptr<std::int32_t>();
      a.slope = s.slope.data_ptr<std::int32_t>();
      a.score_shift = w.attention.score_shift;
      a.out = attn_.data_ptr<float>();
      ck::attention(ni, rows, a, stream);

      const ck::AccView o = s.wo.run(attn_, n, res_wo_);
      ck::residual_norm(ni, o, s.wo_mult.data_ptr<std::int32_t>(), w.wo.shift, d, residual,
                        s.ffn_norm.data_ptr<std::int32_t>(), x, stream);
      const ck::AccView h = s.w1.run(x_, n, res_w1_);
      ck::squared_relu(ni, h, s.w1_mult.data_ptr<std::int32_t>(), w.w1.shift, static_cast<int>(cfg_.ffn),
                       hidden_.data_ptr<float>(), stream);
      const ck::AccView f = s.w2.run(hidden_, n, res_w2_);
      const at::Tensor& next_gain = l + 1 < cfg_.layers ? layers_[l + 1].attn_norm : final_norm_;
      ck::residual_norm(ni, f, s.w2_mult.data_ptr<std::int32_t>(), w.w2.shift, d, residual,
                        next_gain.data_ptr<std::int32_t>(), x, stream);
    }
    const ck::AccView logits = output_.run(x_, n, res_out_);
    const std::uint32_t V = cfg_.vocab_size;
    ck::frequencies(ni, logits, out_mult_.data_ptr<std::int32_t>(), model_.output.shift, static_cast<int>(V),
                    device_freqs(), device_totals(), stream);
    for (std::size_t i = 0; i < count; ++i) ++position_[slots[i]];
    queued_ = true;
    set_advanced_rows(count);
  }

  void step(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count,
            std::uint32_t* freqs) override {
    advance(slots, symbols, count);
    if (count == 0) return;
    const std::size_t bytes = count * cfg_.vocab_size * sizeof(std::uint32_t);
    download(host_freqs_.as<std::uint32_t>(), device_freqs(), bytes);
    std::memcpy(freqs, host_freqs_.as<std::uint32_t>(), bytes);
  }

  void ranges_of(const std::uint32_t* symbols, SymbolRange* out) override { ranges_of_many(symbols, 1, out); }

  void ranges_of_many(const std::uint32_t* symbols, std::size_t per_row, SymbolRange* out) override {
    if (per_row > max_ranges_per_row_) return Predictor::ranges_of_many(symbols, per_row, out);  // a column at a time
    const std::size_t n = advanced_rows() * per_row;
    if (n == 0) return;
    for (std::size_t i = 0; i < n; ++i)
      if (symbols[i] >= cfg_.vocab_size) throw std::out_of_range("cuda predictor: symbol out of range");
    c10::cuda::CUDAGuard device_guard(device_);
    auto* dev_symbols = reinterpret_cast<std::uint32_t*>(step_symbols_.data_ptr<std::int32_t>());
    upload(dev_symbols, symbols, n * sizeof(std::uint32_t));
    ck::ranges(static_cast<int>(n), device_freqs(), device_totals(), static_cast<int>(cfg_.vocab_size),
               static_cast<int>(per_row), dev_symbols, device_ranges(), stream_.stream());
    download(out, device_ranges(), n * sizeof(SymbolRange));
  }

  void find(const std::uint64_t* targets, SymbolRange* out) override {
    const std::size_t n = advanced_rows();
    if (n == 0) return;
    c10::cuda::CUDAGuard device_guard(device_);
    auto* dev_targets = reinterpret_cast<std::uint64_t*>(step_targets_.data_ptr<std::int64_t>());
    upload(dev_targets, targets, n * sizeof(std::uint64_t));
    ck::find(static_cast<int>(n), device_freqs(), device_totals(), static_cast<int>(cfg_.vocab_size), dev_targets,
             device_ranges(), stream_.stream());
    download(out, device_ranges(), n * sizeof(SymbolRange));
  }

  std::string device_name() const {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device_.index()) != cudaSuccess) return "CUDA device";
    return prop.name;
  }

 private:
  std::uint32_t* device_freqs() { return reinterpret_cast<std::uint32_t*>(freqs_.data_ptr<std::int32_t>()); }
  std::uint64_t* device_totals() { return reinterpret_cast<std::uint64_t*>(totals_.data_ptr<std::int64_t>()); }
  SymbolRange* device_ranges() { return reinterpret_cast<SymbolRange*>(ranges_.data_ptr<std::uint8_t>()); }

  void sync(const char* what) {
    cuda_check(cudaStreamSynchronize(stream_.stream()), what);
    queued_ = false;
  }
  // Small transfers of the coding interface, through pinned memory (every
  // upload is followed by a download, which synchronizes, before the next).
  void upload(void* device, const void* host, std::size_t bytes) {
    std::memcpy(host_io_.as<std::uint8_t>(), host, bytes);
    cuda_check(cudaMemcpyAsync(device, host_io_.as<std::uint8_t>(), bytes, cudaMemcpyHostToDevice, stream_.stream()),
               "coding inputs to the device");
    queued_ = true;
  }
  void download(void* host, const void* device, std::size_t bytes) {
    void* staging = host == host_freqs_.as<void>() ? host : host_io_.as<void>();
    cuda_check(cudaMemcpyAsync(staging, device, bytes, cudaMemcpyDeviceToHost, stream_.stream()),
               "results to the host");
    sync("step");
    if (staging != host) std::memcpy(host, staging, bytes);
  }

  const ModelFile& model_;
  const ModelConfig cfg_;
  const std::uint32_t max_streams_;
  const std::size_t max_ranges_per_row_;  // ranges_of_many() moves up to this many a row in one transfer
  const at::Device device_;
  c10::cuda::CUDAStream stream_;
  std::vector<std::uint32_t> position_;
  PinnedBuffer host_rows_, host_freqs_, host_io_;
  bool queued_ = false;  // work queued on stream_ since the last synchronize
  at::Tensor emb_weight_, emb_mult_;
  std::vector<GpuLayer> layers_;
  at::Tensor final_norm_, out_mult_;
  GpuLinear output_;
  std::vector<at::Tensor> res_qkv_, res_wo_, res_w1_, res_w2_, res_out_;
  at::Tensor rows_, residual_, x_, attn_, hidden_, freqs_;
  at::Tensor totals_, step_symbols_, step_targets_, ranges_;  // the coding interface's buffers
};

}  // namespace

bool cuda_available() {
  try {
    return at::cuda::is_available();
  } catch (const std::exception&) {
    return false;
  }
}

std::string cuda_description() {
  if (!cuda_available()) return "CUDA: built in, but no CUDA device is available";
  cudaDeviceProp prop{};
  const int device = c10::cuda::current_device();
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "CUDA: device " + std::to_string(device);
  return std::string("CUDA: ") + prop.name;
}

std::unique_ptr<Predictor> make_cuda_predictor(const ModelFile& model, std::uint32_t max_streams,
                                               std::size_t ranges_per_row) {
  if (!cuda_available())
    throw std::runtime_error("CUDA requested, but no CUDA device is available (use --device cpu)");
  auto predictor = std::make_unique<CudaPredictor>(model, max_streams, ranges_per_row);
  // Self-test on the device, in slot 0, before anything is coded with it: the
  // proof, at every start, that this GPU computes the integer network exactly.
  if (selftest_digest(*predictor, model) != model.selftest_digest)
    throw std::runtime_error("model '" + model.name + "' fails its self-test on the CUDA backend (" +
                             predictor->device_name() +
                             "): this GPU computes different predictions than the one that made the model; files "
                             "it wrote could not be decoded");
  return predictor;
}

}  // namespace lmzip

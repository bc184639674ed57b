#include "train/qat_model.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "model/exp_tables.h"

namespace lmzip {
namespace trainer {

std::int32_t alibi_slope(std::uint32_t head, std::uint32_t heads) {
  return static_cast<std::int32_t>(std::lround(256.0 * std::exp2(-8.0 * (head + 1) / heads)));
}

torch::Tensor row_scales(const torch::Tensor& w) {
  return (w.detach().abs().amax(1, true) / 127).clamp_min(1e-12);
}

torch::Tensor int_weights(const torch::Tensor& w) {
  return torch::floor(w.detach() / row_scales(w) + 0.5).clamp(-127, 127);
}

// Weights: int8 per output row, scale max|row| / 127 (what the export writes).
// The gradient passes through the rounding to the float weight.
static torch::Tensor quant_rows(const torch::Tensor& w) {
  const auto s = row_scales(w);
  return w + (int_weights(w) * s - w).detach();
}

// Round half up, as round_shift does.
static torch::Tensor round_half_up(const torch::Tensor& x) { return torch::floor(x + 0.5); }

QatLayerImpl::QatLayerImpl(const ModelConfig& c, double init_std, double out_std) {
  const std::int64_t d = c.width, q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
  attn_gain = register_parameter("attn_gain", torch::ones({d}));
  wq = register_parameter("wq", torch::randn({q_dim, d}) * init_std);
  wk = register_parameter("wk", torch::randn({kv_dim, d}) * init_std);
  wv = register_parameter("wv", torch::randn({kv_dim, d}) * init_std);
  wo = register_parameter("wo", torch::randn({d, q_dim}) * out_std);
  ffn_gain = register_parameter("ffn_gain", torch::ones({d}));
  w1 = register_parameter("w1", torch::randn({std::int64_t{c.ffn}, d}) * init_std);
  w2 = register_parameter("w2", torch::randn({d, std::int64_t{c.ffn}}) * out_std);
  log_s_attn_x = register_parameter("log_s_attn_x", torch::zeros({1}));
  log_s_q = register_parameter("log_s_q", torch::zeros({1}));
  log_s_k = register_parameter("log_s_k", torch::zeros({1}));
  log_s_v = register_parameter("log_s_v", torch::zeros({1}));
  log_s_ffn_x = register_parameter("log_s_ffn_x", torch::zeros({1}));
  log_s_u = register_parameter("log_s_u", torch::zeros({1}));
}

QatModelImpl::QatModelImpl(const ModelConfig& config) : config_(config) {
  const double init_std = 0.02;
  // Blocks write into the residual stream through wo and w2; scaling those
  // down by depth keeps the stream's growth independent of the layer count.
  const double out_std = init_std / std::sqrt(2.0 * config.layers);
  const std::int64_t d = config.width, v = config.vocab_size;
  embedding = register_parameter("embedding", torch::randn({v + 1, d}) * init_std);
  for (std::uint32_t l = 0; l < config.layers; ++l)
    layers.push_back(register_module("layer" + std::to_string(l), QatLayer(config, init_std, out_std)));
  final_gain = register_parameter("final_gain", torch::ones({d}));
  output = register_parameter("output", torch::randn({v, d}) * init_std);
  log_s_final_x = register_parameter("log_s_final_x", torch::zeros({1}));
}

std::vector<torch::Tensor> QatModelImpl::decayed_parameters() const {
  std::vector<torch::Tensor> p;
  for (const auto& l : layers) p.insert(p.end(), {l->wq, l->wk, l->wv, l->wo, l->w1, l->w2});
  p.push_back(output);
  return p;
}

std::vector<torch::Tensor> QatModelImpl::other_parameters() const {
  std::vector<torch::Tensor> p = {embedding, final_gain, log_s_final_x};
  for (const auto& l : layers)
    p.insert(p.end(), {l->attn_gain, l->ffn_gain, l->log_s_attn_x, l->log_s_q, l->log_s_k, l->log_s_v,
                       l->log_s_ffn_x, l->log_s_u});
  return p;
}

// Fixed blocks of n elements (bounds independent of the thread count) run
// in parallel; returns the sum of fn(begin, end) over them, in block order,
// so a gradient sum does not depend on the number of threads.
static double sum_over_blocks(std::int64_t n, const std::function<double(std::int64_t, std::int64_t)>& fn) {
  constexpr std::int64_t kBlock = 1 << 15;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> part(static_cast<std::size_t>(blocks), 0.0);
  at::parallel_for(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) part[b] = fn(b * kBlock, std::min(n, (b + 1) * kBlock));
  });
  double sum = 0;
  for (double p : part) sum += p;
  return sum;
}

static void for_elements(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  at::parallel_for(0, n, 1 << 15, fn);
}

// floor(v) clamped to [lo, hi] (integers), without a libm call so the loops
// vectorize: v is clamped first, so the conversion to int is in range.
static inline float clamped_floor(float v, float lo, float hi) {
  const float c = std::min(std::max(v, lo), hi + 1.0f);
  const float t = float(static_cast<int>(c));
  return std::min(t > c ? t - 1.0f : t, hi);
}

// u = min(floor((t^2 + 128) / 256), 127) with t = min(round(r * 16 / sqrt(s)), 4095), r >= 0.
static inline float squared_relu_level(float r, float root) {
  const float t = clamped_floor(r * 16.0f / root + 0.5f, 0.0f, 4095.0f);
  return clamped_floor((t * t + 128.0f) / 256.0f, 0.0f, 127.0f);
}

// Sums terms[0..n) in double, in order.
static double sum_in_order(const float* terms, std::int64_t n) {
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += terms[i];
  return sum;
}

// The loops, on elements [begin, end), with restrict pointers and scalars by
// value so that they vectorize. The backward ones return the sum of the
// scale's gradient terms.
static void fake_quant_forward(const float* __restrict in, float* __restrict out, std::int64_t begin,
                               std::int64_t end, float s, float lo, float hi) {
  for (std::int64_t i = begin; i < end; ++i) {
    const float y = in[i] / s, y_int = clamped_floor(y + 0.5f, lo, hi);
    out[i] = (y >= lo) & (y <= hi) ? (y + (y_int - y)) * s : y_int * s;
  }
}

static double fake_quant_backward(const float* __restrict in, const float* __restrict grad, float* __restrict dx,
                                  std::int64_t begin, std::int64_t end, float s, float lo, float hi) {
  double sum = 0;
  float terms[1024];
  for (std::int64_t at = begin; at < end; at += 1024) {
    const std::int64_t n = std::min<std::int64_t>(1024, end - at);
    for (std::int64_t k = 0; k < n; ++k) {
      const float y = in[at + k] / s, y_int = clamped_floor(y + 0.5f, lo, hi), g = grad[at + k];
      const bool inside = (y >= lo) & (y <= hi);
      dx[at + k] = inside ? g : 0.0f;
      terms[k] = g * (inside ? y_int - y : y_int);
    }
    sum += sum_in_order(terms, n);
  }
  return sum;
}

static void squared_relu_quant_forward(const float* __restrict in, float* __restrict out, std::int64_t begin,
                                       std::int64_t end, float s, float root) {
  for (std::int64_t i = begin; i < end; ++i) {
    const float r = std::max(in[i], 0.0f), y = r * r / s, u = squared_relu_level(r, root);
    out[i] = y <= 127.0f ? (y + (u - y)) * s : u * s;
  }
}

static double squared_relu_quant_backward(const float* __restrict in, const float* __restrict grad,
                                          float* __restrict da, std::int64_t begin, std::int64_t end, float s,
                                          float root) {
  double sum = 0;
  float terms[1024];
  for (std::int64_t at = begin; at < end; at += 1024) {
    const std::int64_t n = std::min<std::int64_t>(1024, end - at);
    for (std::int64_t k = 0; k < n; ++k) {
      const float r = std::max(in[at + k], 0.0f), y = r * r / s, u = squared_relu_level(r, root), g = grad[at + k];
      const bool inside = y <= 127.0f;
      da[at + k] = inside ? g * 2.0f * r : 0.0f;
      terms[k] = g * (inside ? u - y : u);
    }
    sum += sum_in_order(terms, n);
  }
  return sum;
}

// A backward pass of the fused loops over input x: kernel(in, grad, dx, begin,
// end) writes x's gradient and returns its elements' scale terms; returns the
// gradient and the terms' sum.
template <class Kernel>
static std::pair<torch::Tensor, double> fused_backward(const torch::Tensor& x, const torch::Tensor& grad,
                                                       const Kernel& kernel) {
  const auto g = grad.contiguous();
  auto dx = torch::empty_like(x);
  const float* in = x.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* d = dx.data_ptr<float>();
  const double terms = sum_over_blocks(x.numel(), [&](std::int64_t begin, std::int64_t end) {
    return kernel(in, gp, d, begin, end);
  });
  return {dx, terms};
}

// The straight-through estimators below as tensor ops (any device).
static torch::Tensor fake_quant_by_ops(const torch::Tensor& x, const torch::Tensor& log_s, double lo, double hi) {
  const auto s = log_s.exp();
  const auto y = x / s;
  const auto y_int = round_half_up(y.detach()).clamp(lo, hi);
  const auto inside = (y.detach() >= lo) & (y.detach() <= hi);
  return torch::where(inside, y + (y_int - y).detach(), y_int) * s;
}

static torch::Tensor squared_relu_quant_by_ops(const torch::Tensor& a, const torch::Tensor& log_s_u) {
  const auto r = torch::relu(a);
  const auto s = log_s_u.exp();
  const auto y = r * r / s;
  torch::Tensor u_int;
  {
    torch::NoGradGuard no_grad;
    const auto t = round_half_up(r * 16 / s.sqrt()).clamp_max(4095);
    u_int = torch::floor((t * t + 128) / 256).clamp_max(127);
  }
  const auto inside = y.detach() <= 127;
  return torch::where(inside, y + (u_int - y).detach(), u_int) * s;
}

// The same on the CPU, one pass each way (a chain of element-wise ops over
// every activation was a tenth of a training step). Forward: the ops'
// arithmetic, element by element. Backward: x's gradient passes where the
// value is inside the range; the scale's is LSQ's, summed in double.
class FakeQuant : public torch::autograd::Function<FakeQuant> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& log_s, double lo, double hi) {
    const auto xc = x.contiguous();
    const float s = log_s.exp().item<float>(), flo = float(lo), fhi = float(hi);
    auto out = torch::empty_like(xc);
    const float* in = xc.data_ptr<float>();
    float* o = out.data_ptr<float>();
    for_elements(xc.numel(), [&](std::int64_t begin, std::int64_t end) {
      fake_quant_forward(in, o, begin, end, s, flo, fhi);
    });
    ctx->save_for_backward({xc, log_s});
    ctx->saved_data["lo"] = lo;
    ctx->saved_data["hi"] = hi;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const float s = saved[1].exp().item<float>();
    const float lo = float(ctx->saved_data["lo"].toDouble()), hi = float(ctx->saved_data["hi"].toDouble());
    const auto [dx, ds] = fused_backward(saved[0], grad[0], [&](const float* in, const float* g, float* d,
                                                                std::int64_t begin, std::int64_t end) {
      return fake_quant_backward(in, g, d, begin, end, s, lo, hi);
    });
    return {dx, torch::full({1}, ds * double(s), saved[1].options()), torch::Tensor(), torch::Tensor()};
  }
};

class SquaredReluQuant : public torch::autograd::Function<SquaredReluQuant> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& log_s_u) {
    const auto ac = a.contiguous();
    const auto s_t = log_s_u.exp();
    const float s = s_t.item<float>(), root = s_t.sqrt().item<float>();
    auto out = torch::empty_like(ac);
    const float* in = ac.data_ptr<float>();
    float* o = out.data_ptr<float>();
    for_elements(ac.numel(), [&](std::int64_t begin, std::int64_t end) {
      squared_relu_quant_forward(in, o, begin, end, s, root);
    });
    ctx->save_for_backward({ac, log_s_u});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto s_t = saved[1].exp();
    const float s = s_t.item<float>(), root = s_t.sqrt().item<float>();
    const auto [da, ds] = fused_backward(saved[0], grad[0], [&](const float* in, const float* g, float* d,
                                                                std::int64_t begin, std::int64_t end) {
      return squared_relu_quant_backward(in, g, d, begin, end, s, root);
    });
    return {da, torch::full({1}, ds * double(s), saved[1].options())};
  }
};

static bool fused_on(const torch::Tensor& x, bool tensor_ops) {
  return !tensor_ops && x.is_cpu() && x.scalar_type() == torch::kFloat32;
}

torch::Tensor fake_quant(const torch::Tensor& x, const torch::Tensor& log_s, double lo, double hi, bool tensor_ops) {
  return fused_on(x, tensor_ops) ? FakeQuant::apply(x, log_s, lo, hi) : fake_quant_by_ops(x, log_s, lo, hi);
}

torch::Tensor squared_relu_quant(const torch::Tensor& a, const torch::Tensor& log_s_u, bool tensor_ops) {
  return fused_on(a, tensor_ops) ? SquaredReluQuant::apply(a, log_s_u) : squared_relu_quant_by_ops(a, log_s_u);
}

// oneDNN's C := alpha op(A) op(B) + beta C, row-major, A and B bf16, C
// float32; it returns 0 when it ran. Taken from the libdnnl.so.2 already
// loaded (by libtorch), if any.
using Bf16Gemm = int (*)(char transa, char transb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                         const c10::BFloat16* a, std::int64_t lda, const c10::BFloat16* b, std::int64_t ldb,
                         float beta, float* c, std::int64_t ldc);

static Bf16Gemm bf16_gemm() {
  static const Bf16Gemm gemm = []() -> Bf16Gemm {
    void* dnnl = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_NOLOAD);
    if (dnnl == nullptr) return nullptr;
    const auto fn = reinterpret_cast<Bf16Gemm>(dlsym(dnnl, "dnnl_gemm_bf16bf16f32"));
    // It declines CPUs without AVX-512; try a 1x1x1 product.
    const c10::BFloat16 one(1.0f);
    float c = 0;
    return fn != nullptr && fn('N', 'N', 1, 1, 1, 1.0f, &one, 1, &one, 1, 0.0f, &c, 1) == 0 && c == 1.0f ? fn
                                                                                                          : nullptr;
  }();
  return gemm;
}

bool bf16_products_available() { return bf16_gemm() != nullptr; }

// c[i] = alpha op(a[i]) op(b[i]) ('N' or 'T') over the leading dimensions of
// contiguous [..][rows][cols] tensors, a and b bf16, c float32 (written).
static void bf16_products(char transa, char transb, float alpha, const torch::Tensor& a, const torch::Tensor& b,
                          torch::Tensor& c) {
  const std::int64_t a_rows = a.size(-2), a_cols = a.size(-1), b_rows = b.size(-2), b_cols = b.size(-1);
  const std::int64_t m = transa == 'N' ? a_rows : a_cols, k = transa == 'N' ? a_cols : a_rows;
  const std::int64_t n = transb == 'N' ? b_cols : b_rows;
  const std::int64_t count = a.numel() / (a_rows * a_cols);
  if ((transb == 'N' ? b_rows : b_cols) != k || b.numel() != count * b_rows * b_cols || c.numel() != count * m * n ||
      !a.is_contiguous() || !b.is_contiguous() || !c.is_contiguous())
    throw std::invalid_argument("bf16 products: mismatched or non-contiguous matrices");
  const auto* ap = a.data_ptr<c10::BFloat16>();
  const auto* bp = b.data_ptr<c10::BFloat16>();
  float* cp = c.data_ptr<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    const int status = bf16_gemm()(transa, transb, m, n, k, alpha, ap + i * a_rows * a_cols, a_cols,
                                   bp + i * b_rows * b_cols, b_cols, 0.0f, cp + i * m * n, n);
    if (status != 0) throw std::runtime_error("oneDNN's bf16 GEMM failed (status " + std::to_string(status) + ")");
  }
}

// The integers of an int8 activation x = x_int * s in bf16: x / s is within
// a few ulps of its integer, so rounding recovers it (bf16 holds integers up
// to 256 exactly).
static torch::Tensor bf16_integers(const torch::Tensor& x, double s) {
  const auto xc = x.contiguous();
  auto out = torch::empty(xc.sizes(), xc.options().dtype(torch::kBFloat16));
  const float* in = xc.data_ptr<float>();
  auto* o = out.data_ptr<c10::BFloat16>();
  const float inv = float(1.0 / s);
  for_elements(xc.numel(), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) o[i] = c10::BFloat16(clamped_floor(in[i] * inv + 0.5f, -255.0f, 255.0f));
  });
  return out;
}

static torch::Tensor to_bf16(const torch::Tensor& x) { return x.to(torch::kBFloat16).contiguous(); }

// dy [M][N] and dy diag(scales) in bf16, in one pass.
static std::pair<torch::Tensor, torch::Tensor> bf16_gradients(const torch::Tensor& dy, const torch::Tensor& scales) {
  const auto g = dy.contiguous(), sc = scales.contiguous();
  const std::int64_t N = g.size(-1), M = g.numel() / N;
  const auto options = g.options().dtype(torch::kBFloat16);
  auto plain = torch::empty({M, N}, options), scaled = torch::empty({M, N}, options);
  const float* in = g.data_ptr<float>();
  const float* s = sc.data_ptr<float>();
  auto* p = plain.data_ptr<c10::BFloat16>();
  auto* q = scaled.data_ptr<c10::BFloat16>();
  at::parallel_for(0, M, 64, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin * N; i < end * N; i += N)
      for (std::int64_t n = 0; n < N; ++n) {
        p[i + n] = c10::BFloat16(in[i + n]);
        q[i + n] = c10::BFloat16(in[i + n] * s[n]);
      }
  });
  return {plain, scaled};
}

class Bf16Linear : public torch::autograd::Function<Bf16Linear> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               double s_x) {
    const std::int64_t N = w.size(0), K = w.size(1);
    const auto x_int = bf16_integers(x.reshape({-1, K}), s_x);
    const auto w_int = to_bf16(int_weights(w));
    const auto scales = row_scales(w).view({1, N});
    auto y = torch::empty({x_int.size(0), N}, x.options());
    bf16_products('N', 'T', 1.0f, x_int, w_int, y);
    y.mul_(scales * s_x);
    ctx->save_for_backward({x_int, w_int, scales});
    ctx->saved_data["s_x"] = s_x;
    auto shape = x.sizes().vec();
    shape.back() = N;
    return y.view(shape);
  }

  // dx = dy diag(scales) w_int; dw = s_x dy^T x_int (the gradient of w_q,
  // which quant_rows passes to w).
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &x_int = saved[0], &w_int = saved[1], &scales = saved[2];
    const double s_x = ctx->saved_data["s_x"].toDouble();
    const std::int64_t M = x_int.size(0), K = x_int.size(1), N = w_int.size(0);
    const auto [dy, dy_scaled] = bf16_gradients(grad[0].reshape({M, N}), scales);
    auto dx = torch::empty({M, K}, grad[0].options());
    bf16_products('N', 'N', 1.0f, dy_scaled, w_int, dx);
    auto dw = torch::empty({N, K}, grad[0].options());
    bf16_products('T', 'N', float(s_x), dy, x_int, dw);
    auto x_shape = grad[0].sizes().vec();
    x_shape.back() = K;
    return {dx.view(x_shape), dw, torch::Tensor()};
  }
};

// scores[i] = q[i] k[i]^T for int8 activations q = q_int s_q, k = k_int s_k
// ([..][Tq][d], [..][Tk][d]): exact integers in bf16, as in Bf16Linear.
class Bf16Scores : public torch::autograd::Function<Bf16Scores> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               double s_q, double s_k) {
    const auto q_int = bf16_integers(q, s_q), k_int = bf16_integers(k, s_k);
    auto shape = q.sizes().vec();
    shape.back() = k.size(-2);
    auto scores = torch::empty(shape, q.options());
    bf16_products('N', 'T', float(s_q * s_k), q_int, k_int, scores);
    ctx->save_for_backward({q_int, k_int});
    ctx->saved_data["s_q"] = s_q;
    ctx->saved_data["s_k"] = s_k;
    return scores;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &q_int = saved[0], &k_int = saved[1];
    const auto ds = to_bf16(grad[0]);
    auto dq = torch::empty(q_int.sizes(), grad[0].options()), dk = torch::empty(k_int.sizes(), grad[0].options());
    bf16_products('N', 'N', float(ctx->saved_data["s_k"].toDouble()), ds, k_int, dq);
    bf16_products('T', 'N', float(ctx->saved_data["s_q"].toDouble()), ds, q_int, dk);
    return {dq, dk, torch::Tensor(), torch::Tensor()};
  }
};

// out[i] = a[i] v[i] for attention weights a [..][Tq][Tk] and an int8
// activation v = v_int s_v [..][Tk][d]. The weights are not bf16 numbers:
// float32 forward, bf16 backward.
class Bf16WeightedValues : public torch::autograd::Function<Bf16WeightedValues> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& v,
                               double s_v) {
    ctx->save_for_backward({to_bf16(a), bf16_integers(v, s_v)});
    ctx->saved_data["s_v"] = s_v;
    return torch::matmul(a, v);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &a = saved[0], &v_int = saved[1];
    const auto dout = to_bf16(grad[0]);
    auto da = torch::empty(a.sizes(), grad[0].options()), dv = torch::empty(v_int.sizes(), grad[0].options());
    bf16_products('N', 'T', float(ctx->saved_data["s_v"].toDouble()), dout, v_int, da);
    bf16_products('T', 'N', 1.0f, a, dout, dv);
    return {da, dv, torch::Tensor()};
  }
};

static void check_bf16(const torch::Tensor& x) {
  if (!bf16_products_available()) throw std::runtime_error("bf16 products: oneDNN's bf16 GEMM is not available");
  if (!x.is_cpu() || x.scalar_type() != torch::kFloat32) throw std::invalid_argument("bf16 products: float32 on the CPU only");
}

torch::Tensor bf16_linear(const torch::Tensor& x, double s_x, const torch::Tensor& w) {
  check_bf16(x);
  return Bf16Linear::apply(x, w, s_x);
}

torch::Tensor bf16_scores(const torch::Tensor& q, const torch::Tensor& k, double s_q, double s_k) {
  check_bf16(q);
  return Bf16Scores::apply(q, k, s_q, s_k);
}

torch::Tensor bf16_weighted_values(const torch::Tensor& a, const torch::Tensor& v, double s_v) {
  check_bf16(a);
  return Bf16WeightedValues::apply(a, v, s_v);
}

torch::Tensor QatModelImpl::linear(const torch::Tensor& x, const torch::Tensor& log_s_x, const torch::Tensor& w) {
  if (bf16_products && !calibrating_ && x.is_cpu())
    return bf16_linear(x, log_s_x.exp().item<double>(), w);
  return torch::nn::functional::linear(x, quant_rows(w));
}

torch::Tensor QatModelImpl::quant(const torch::Tensor& x, const torch::Tensor& log_s, double lo, double hi) {
  if (calibrating_) {
    auto& m = absmax_[log_s.unsafeGetTensorImpl()];
    m = std::max(m, x.abs().max().item<double>());
    return x;
  }
  return fake_quant(x, log_s, lo, hi);
}

torch::Tensor QatModelImpl::squared_relu_quant(const torch::Tensor& a, const torch::Tensor& log_s_u) {
  if (calibrating_) {
    const auto r = torch::relu(a);
    auto& m = absmax_[log_s_u.unsafeGetTensorImpl()];
    m = std::max(m, (r * r).max().item<double>());
    return r * r;
  }
  return trainer::squared_relu_quant(a, log_s_u);
}

static torch::Tensor rms_norm_by_ops(const torch::Tensor& r, const torch::Tensor& gain) {
  return r * torch::rsqrt((r * r).mean(-1, true) + 1e-12) * gain;
}

// The same on the CPU, one pass over each row each way (as tensor ops, with
// their backward, the norms were an eighth of a training step). For a row r
// of d with inv = (sum r^2 / d + 1e-12)^-1/2 and g = dy * gain:
//   dr = inv g - r inv^3 (g . r) / d,   dgain = sum over rows of dy r inv,
// the latter summed in fixed blocks of rows, so that it does not depend on
// the number of threads.
class RmsNorm : public torch::autograd::Function<RmsNorm> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& r,
                               const torch::Tensor& gain) {
    const auto rc = r.contiguous(), gc = gain.contiguous();
    const std::int64_t d = rc.size(-1), rows = rc.numel() / d;
    auto out = torch::empty_like(rc);
    auto inv = torch::empty({rows}, rc.options());
    const float* in = rc.data_ptr<float>();
    const float* g = gc.data_ptr<float>();
    float* o = out.data_ptr<float>();
    float* iv = inv.data_ptr<float>();
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const float* x = in + row * d;
        float sum = 0;
        for (std::int64_t i = 0; i < d; ++i) sum += x[i] * x[i];
        const float v = 1.0f / std::sqrt(sum / float(d) + 1e-12f);
        iv[row] = v;
        for (std::int64_t i = 0; i < d; ++i) o[row * d + i] = x[i] * v * g[i];
      }
    });
    ctx->save_for_backward({rc, gc, inv});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &r = saved[0], &gain = saved[1], &inv = saved[2];
    const auto dy = grad[0].contiguous();
    const std::int64_t d = r.size(-1), rows = r.numel() / d;
    constexpr std::int64_t kBlock = 256;
    const std::int64_t blocks = (rows + kBlock - 1) / kBlock;
    auto dr = torch::empty_like(r);
    auto partial = torch::zeros({blocks, d}, torch::kFloat64);
    const float* x = r.data_ptr<float>();
    const float* gn = gain.data_ptr<float>();
    const float* iv = inv.data_ptr<float>();
    const float* dyp = dy.data_ptr<float>();
    float* out = dr.data_ptr<float>();
    double* part = partial.data_ptr<double>();
    at::parallel_for(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b) {
        double* dgain = part + b * d;
        for (std::int64_t row = b * kBlock; row < std::min(rows, (b + 1) * kBlock); ++row) {
          const float* xr = x + row * d;
          const float* dr_in = dyp + row * d;
          const float v = iv[row];
          float dot = 0;
          for (std::int64_t i = 0; i < d; ++i) dot += dr_in[i] * gn[i] * xr[i];
          const float c = v * v * v * dot / float(d);
          for (std::int64_t i = 0; i < d; ++i) {
            out[row * d + i] = v * dr_in[i] * gn[i] - xr[i] * c;
            dgain[i] += double(dr_in[i] * xr[i] * v);
          }
        }
      }
    });
    return {dr, partial.sum(0).to(torch::kFloat32).view(gain.sizes())};
  }
};

torch::Tensor rms_norm(const torch::Tensor& r, const torch::Tensor& gain, bool tensor_ops) {
  return fused_on(r, tensor_ops) ? RmsNorm::apply(r, gain) : rms_norm_by_ops(r, gain);
}

// Integer: rms = max(1, isqrt(sum r^2 / d)); x = round_div(r * g, rms * 256)
// with g = gain / s_x * 256. The quantization to int8 follows in quant().
torch::Tensor QatModelImpl::norm(const torch::Tensor& r, const torch::Tensor& gain) {
  return rms_norm(r, gain);
}

// The attention weights of the integer network. On the CPU one fused pass per
// row (a chain of tensor ops there cost more than all the GEMMs); on a GPU,
// tensor ops:
//   z_j = score_j - slope_h (i - j) for the window i - window < j <= i,
//   p_j = ATT_EXP[min(round(16 (max z - z_j)), 159)] / 4096, a_j = p_j / sum p.
// The integer network rounds the distance to the maximum to 1/16 nat and the
// weights to 1/4096; a_j is what its round_div(sum p v, sum p) divides by.
// Backward is softmax's with a in place of exp's output (da/dz = diag(a) - a a^T),
// on the CPU by rows too. Scores may cover a block of queries and keys:
// row r is position i = query_first + r, column c position j = key_first + c.
class AttentionWeights : public torch::autograd::Function<AttentionWeights> {
 public:
  struct Span {
    std::int64_t window, query_first, key_first;
    // The columns [first, last] of row r that are in its window.
    std::int64_t first(std::int64_t r) const { return std::max<std::int64_t>(0, query_first + r - window + 1 - key_first); }
    std::int64_t last(std::int64_t r) const { return query_first + r - key_first; }
  };

  // scores [B][H][Tq][Tk] in nats, slopes [H] in nats per position.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& scores,
                               const torch::Tensor& slopes, const torch::Tensor& att_exp, std::int64_t window,
                               std::int64_t query_first, std::int64_t key_first, bool tensor_ops) {
    const Span span{window, query_first, key_first};
    if (scores.size(3) <= span.last(scores.size(2) - 1))
      throw std::invalid_argument("attention weights: the keys end before the last query");
    const bool rows = !tensor_ops && scores.is_cpu();
    const auto a = rows ? by_rows(scores, slopes, span) : by_tensor_ops(scores, slopes, att_exp, span);
    ctx->save_for_backward({a});
    ctx->saved_data["window"] = window;
    ctx->saved_data["query_first"] = query_first;
    ctx->saved_data["key_first"] = key_first;
    ctx->saved_data["by_rows"] = rows;
    return a;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto a = ctx->get_saved_variables()[0];
    torch::Tensor dz;
    if (ctx->saved_data["by_rows"].toBool()) {
      const Span span{ctx->saved_data["window"].toInt(), ctx->saved_data["query_first"].toInt(),
                      ctx->saved_data["key_first"].toInt()};
      dz = backward_by_rows(grad[0], a, span);
    } else {
      const auto g = grad[0] * a;
      dz = g - a * g.sum(-1, true);
    }
    return {dz, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }

 private:
  // Rows are independent: split between threads, the result does not depend on their number.
  static torch::Tensor by_rows(const torch::Tensor& scores, const torch::Tensor& slopes, const Span& span) {
    const auto s = scores.contiguous();
    const std::int64_t B = s.size(0), H = s.size(1), Tq = s.size(2), Tk = s.size(3);
    auto a = torch::empty_like(s);  // every entry written below
    const float* score = s.data_ptr<float>();
    float* out = a.data_ptr<float>();
    const auto slope_values = slopes.contiguous();
    const float* slope = slope_values.data_ptr<float>();
    at::parallel_for(0, B * H * Tq, 256, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t r = row % Tq, h = (row / Tq) % H, i = span.query_first + r;
        const float* z = score + row * Tk;
        float* p = out + row * Tk;
        const std::int64_t first = span.first(r), last = span.last(r);
        std::fill(p, p + first, 0.0f);
        std::fill(p + last + 1, p + Tk, 0.0f);
        float m = -INFINITY;
        for (std::int64_t c = first; c <= last; ++c) m = std::max(m, z[c] - slope[h] * float(i - span.key_first - c));
        float sum = 0;
        for (std::int64_t c = first; c <= last; ++c) {
          const float x = 16 * (m - (z[c] - slope[h] * float(i - span.key_first - c))) + 0.5f;
          p[c] = float(kAttExp[x >= 159 ? 159 : static_cast<int>(x)]);
          sum += p[c];
        }
        for (std::int64_t c = first; c <= last; ++c) p[c] /= sum;
      }
    });
    return a;
  }

  // dz_j = a_j (g_j - sum_k a_k g_k) over the row's window; 0 outside it,
  // where a is 0. One pass instead of tensor ops over every entry.
  static torch::Tensor backward_by_rows(const torch::Tensor& grad, const torch::Tensor& a, const Span& span) {
    const auto g = grad.contiguous();
    const std::int64_t Tq = a.size(2), Tk = a.size(3), rows = a.numel() / Tk;
    auto dz = torch::empty_like(a);  // every entry written below
    const float* gp = g.data_ptr<float>();
    const float* ap = a.data_ptr<float>();
    float* out = dz.data_ptr<float>();
    at::parallel_for(0, rows, 256, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t r = row % Tq, first = span.first(r), last = span.last(r);
        const float* gr = gp + row * Tk;
        const float* ar = ap + row * Tk;
        float* o = out + row * Tk;
        std::fill(o, o + first, 0.0f);
        std::fill(o + last + 1, o + Tk, 0.0f);
        float dot = 0;
        for (std::int64_t c = first; c <= last; ++c) dot += ar[c] * gr[c];
        for (std::int64_t c = first; c <= last; ++c) o[c] = ar[c] * (gr[c] - dot);
      }
    });
    return dz;
  }

  // The same arithmetic, element-wise over [B][H][Tq][Tk]. The table's entries
  // are integers up to 4096, so sums over windows up to 4096 are exact in
  // float32 in any order: the result equals by_rows'.
  static torch::Tensor by_tensor_ops(const torch::Tensor& scores, const torch::Tensor& slopes,
                                     const torch::Tensor& att_exp, const Span& span) {
    const std::int64_t H = scores.size(1), Tq = scores.size(2), Tk = scores.size(3);
    const auto query = torch::arange(Tq, scores.options()) + double(span.query_first);
    const auto key = torch::arange(Tk, scores.options()) + double(span.key_first);
    const auto distance = query.view({Tq, 1}) - key.view({1, Tk});  // i - j
    const auto outside = (distance < 0) | (distance >= double(span.window));
    const auto z = (scores - slopes.view({1, H, 1, 1}) * distance).masked_fill(outside, -INFINITY);
    const auto x = (z.amax(-1, true) - z) * 16 + 0.5;  // +inf outside the window
    const auto p = att_exp.take(x.clamp_max(159).to(torch::kInt64)).masked_fill(outside, 0);
    return p / p.sum(-1, true);
  }
};

torch::Tensor attention_weights(const torch::Tensor& scores, const torch::Tensor& slopes,
                                const torch::Tensor& att_exp, std::int64_t window, bool tensor_ops,
                                std::int64_t query_first, std::int64_t key_first) {
  return AttentionWeights::apply(scores, slopes, att_exp, window, query_first, key_first, tensor_ops);
}

torch::Tensor attention_exp_table() {
  auto table = torch::empty({160});
  for (int i = 0; i < 160; ++i) table[i] = float(kAttExp[i]);
  return table;
}

torch::Tensor QatModelImpl::attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                      const QatLayer& layer) {
  const std::int64_t B = q.size(0), T = q.size(1);
  const std::int64_t H = config_.heads, KV = config_.kv_heads, G = H / KV, hd = config_.head_dim;
  const std::int64_t window = config_.window;
  const double q_scale = 1.0 / std::sqrt(double(hd));
  const auto qh = (q * q_scale).view({B, T, H, hd}).permute({0, 2, 1, 3});  // scores in nats
  const auto kh = k.view({B, T, KV, hd}).permute({0, 2, 1, 3});
  const auto vh = v.view({B, T, KV, hd}).permute({0, 2, 1, 3});
  if (!slopes_.defined() || slopes_.device() != q.device()) {
    auto slopes = torch::empty({H});
    for (std::int64_t h = 0; h < H; ++h)
      slopes[h] = float(alibi_slope(static_cast<std::uint32_t>(h), config_.heads)) / 256.0f;
    slopes_ = slopes.to(q.device());
    att_exp_ = attention_exp_table().to(q.device());
  }

  const bool bf16 = bf16_products && !calibrating_ && q.is_cpu();
  const double s_q = bf16 ? layer->log_s_q.exp().item<double>() * q_scale : 0;
  const double s_k = bf16 ? layer->log_s_k.exp().item<double>() : 0;
  const double s_v = bf16 ? layer->log_s_v.exp().item<double>() : 0;

  // Blocks of queries, each against the keys its windows reach: with a
  // window of half the sequence, 56% of the [T][T] products and weights.
  const std::int64_t block = attention_block > 0 ? attention_block : std::max<std::int64_t>(64, window / 2);
  std::vector<torch::Tensor> outputs;
  for (std::int64_t q0 = 0; q0 < T; q0 += block) {
    const std::int64_t qn = std::min(block, T - q0);
    const std::int64_t k0 = std::max<std::int64_t>(0, q0 - window + 1), kn = q0 + qn - k0;
    // Query heads h = g * G + i share kv head g: fold the G query heads of a
    // kv head into one matrix product with its keys.
    const auto qb = qh.narrow(2, q0, qn).reshape({B, KV, G * qn, hd});
    // Integer: z_j = round_shift(q.k_j * score_multiplier, score_shift) - slope * (t - j)
    // in 1/256 nat, with score_multiplier / 2^score_shift = s_q s_k 256 / sqrt(head_dim).
    // Here the scores are in nats; their rounding to 1/256 nat is left out
    // (well below the 1/16 nat of the weights' table).
    const auto kb = kh.narrow(2, k0, kn);
    const auto scores = (bf16 ? bf16_scores(qb, kb, s_q, s_k) : torch::matmul(qb, kb.transpose(2, 3))).view({B, H, qn, kn});
    const auto a = attention_weights(scores, slopes_, att_exp_, window, false, q0, k0);
    // Integer: o_h = round_div(sum_j p_j v_j, sum_j p_j), on v's int8 grid.
    const auto ab = a.view({B, KV, G * qn, kn}), vb = vh.narrow(2, k0, kn);
    outputs.push_back((bf16 ? bf16_weighted_values(ab, vb, s_v) : torch::matmul(ab, vb)).view({B, H, qn, hd}));
  }
  auto o = outputs.size() == 1 ? outputs[0] : torch::cat(outputs, 2);
  o = quant(o, layer->log_s_v, -127, 127);
  return o.permute({0, 2, 1, 3}).reshape({B, T, H * hd});
}

torch::Tensor QatModelImpl::forward(const torch::Tensor& tokens) {
  namespace F = torch::nn::functional;
  auto watch = [this](const torch::Tensor& r) {
    if (watch_residual_) residual_max_ = std::max(residual_max_, r.abs().max().item<double>());
  };

  // 1. r = round_shift(embedding.weight[s] * embedding.multiplier[s], shift):
  //    the int8 row, scaled into the residual's fixed point.
  auto r = F::embedding(tokens, quant_rows(embedding));
  watch(r);

  for (const auto& L : layers) {
    // 2.1 x = norm(r, attn_norm): int8.
    auto x = quant(norm(r, L->attn_gain), L->log_s_attn_x, -127, 127);
    // 2.2 q, k, v = requant8(w(x)): int8 on their own scales.
    const auto q = quant(linear(x, L->log_s_attn_x, L->wq), L->log_s_q, -127, 127);
    const auto k = quant(linear(x, L->log_s_attn_x, L->wk), L->log_s_k, -127, 127);
    const auto v = quant(linear(x, L->log_s_attn_x, L->wv), L->log_s_v, -127, 127);
    // 2.3 attention over the window.
    const auto o = attention(q, k, v, L);
    // 2.4 residual_add(r, wo(o)).
    r = r + linear(o, L->log_s_v, L->wo);
    watch(r);
    // 2.5 x = norm(r, ffn_norm); u = squared ReLU of w1(x), in 0..127.
    x = quant(norm(r, L->ffn_gain), L->log_s_ffn_x, -127, 127);
    const auto u = squared_relu_quant(linear(x, L->log_s_ffn_x, L->w1), L->log_s_u);
    // 2.6 residual_add(r, w2(u)).
    r = r + linear(u, L->log_s_u, L->w2);
    watch(r);
  }

  // 3. x = norm(r, final_norm); logits = output(x) (the integer network rounds
  //    them to 1/32 nat; left out here, the evaluation measures it).
  const auto x = quant(norm(r, final_gain), log_s_final_x, -127, 127);
  return linear(x, log_s_final_x, output);
}

void QatModelImpl::calibrate(const torch::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  calibrating_ = true;
  absmax_.clear();
  forward(tokens);
  calibrating_ = false;
  // Every log-scale parameter seen, by identity.
  for (auto& p : parameters()) {
    const auto it = absmax_.find(p.unsafeGetTensorImpl());
    if (it != absmax_.end()) p.fill_(std::log(std::max(it->second, 1e-8) / 127.0));
  }
}

double QatModelImpl::residual_absmax(const torch::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  watch_residual_ = true;
  residual_max_ = 0;
  forward(tokens);
  watch_residual_ = false;
  return residual_max_;
}

}  // namespace trainer
}  // namespace lmzip

#include "train/export.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace lmzip {
namespace trainer {

int residual_bits_for(double residual_absmax) {
  if (!(residual_absmax > 0) || !std::isfinite(residual_absmax))
    throw std::runtime_error("export: the residual stream is zero or not finite");
  return static_cast<int>(std::floor(std::log2(std::ldexp(1.0, 22) / residual_absmax)));
}

// The largest shift in 1..62 for which round(max_ratio * 2^shift) < 2^31:
// multipliers keep ~31 significant bits, and acc * multiplier (|acc| < 2^24)
// stays within int64.
static std::uint8_t choose_shift(double max_ratio, const std::string& what) {
  const double limit = std::ldexp(1.0, 31) - 0.5;
  if (!(max_ratio > 0)) return 1;
  int shift = 62;
  while (shift > 1 && std::ldexp(max_ratio, shift) >= limit) --shift;
  if (std::ldexp(max_ratio, shift) >= limit)
    throw std::runtime_error("export: the multiplier of " + what + " does not fit (ratio " +
                             std::to_string(max_ratio) + ")");
  return static_cast<std::uint8_t>(shift);
}

static std::int32_t to_multiplier(double ratio, int shift) {
  return static_cast<std::int32_t>(std::llround(std::ldexp(ratio, shift)));
}

static double scale_of(const torch::Tensor& log_s) { return std::exp(log_s.item<double>()); }

// A linear y = W x whose input is on grid s_in and whose output is wanted in
// units of s_out: acc = W_int x_int stands for acc * s_w[o] * s_in, so
// multiplier[o] / 2^shift = s_w[o] * factor with factor = s_in / s_out.
// column_sign[i] = -1 negates input column i (a negative norm gain folded in).
static QuantLinear export_linear(const torch::Tensor& w, double factor, const std::string& what,
                                 const torch::Tensor& column_sign = {}) {
  auto w_int = int_weights(w);
  if (column_sign.defined()) w_int = w_int * column_sign.view({1, -1});
  // Read on the CPU, wherever the network trained.
  w_int = w_int.to(torch::kInt8).cpu().contiguous();
  const auto scales = row_scales(w).to(torch::kFloat64).cpu().contiguous();

  QuantLinear q;
  q.out = static_cast<std::uint32_t>(w.size(0));
  q.in = static_cast<std::uint32_t>(w.size(1));
  q.weight.assign(w_int.data_ptr<std::int8_t>(), w_int.data_ptr<std::int8_t>() + w_int.numel());

  std::vector<double> ratio(q.out);
  double max_ratio = 0;
  for (std::uint32_t o = 0; o < q.out; ++o) {
    ratio[o] = scales.data_ptr<double>()[o] * factor;
    max_ratio = std::max(max_ratio, ratio[o]);
  }
  q.shift = choose_shift(max_ratio, what);
  q.multiplier.resize(q.out);
  for (std::uint32_t o = 0; o < q.out; ++o) q.multiplier[o] = to_multiplier(ratio[o], q.shift);
  return q;
}

// Integer: x[c] = round_div(r[c] * g[c], rms * 256), so g = |gain| / s_x * 256
// (8 fractional bits). A negative gain becomes a sign on the next linears' columns.
static std::vector<std::int32_t> export_gains(const torch::Tensor& gain, double s_x) {
  const auto g = gain.detach().to(torch::kFloat64).cpu().contiguous();
  std::vector<std::int32_t> out(g.numel());
  for (std::size_t c = 0; c < out.size(); ++c) {
    const double v = std::round(std::abs(g.data_ptr<double>()[c]) / s_x * 256.0);
    out[c] = static_cast<std::int32_t>(std::min(v, double(std::numeric_limits<std::int32_t>::max())));
  }
  return out;
}

static torch::Tensor signs_of(const torch::Tensor& gain) {
  return torch::where(gain.detach() < 0, -torch::ones_like(gain), torch::ones_like(gain));
}

ModelFile export_network(QatModel& model, int residual_bits) {
  torch::NoGradGuard no_grad;
  const ModelConfig& c = model->config();
  ModelFile f;
  f.config = c;
  const double residual_unit = std::ldexp(1.0, residual_bits);  // r per unit of R

  // r = round_shift(E_int[s] * multiplier[s], shift) = E[s] * 2^bits.
  f.embedding = export_linear(model->embedding, residual_unit, "embedding");

  for (std::size_t l = 0; l < model->layers.size(); ++l) {
    const auto& L = model->layers[l];
    const std::string name = "layer " + std::to_string(l) + " ";
    const double s_ax = scale_of(L->log_s_attn_x), s_q = scale_of(L->log_s_q), s_k = scale_of(L->log_s_k),
                 s_v = scale_of(L->log_s_v), s_fx = scale_of(L->log_s_ffn_x), s_u = scale_of(L->log_s_u);
    LayerWeights w;
    w.attn_norm = export_gains(L->attn_gain, s_ax);
    const auto attn_sign = signs_of(L->attn_gain);
    // q_int = round(acc * s_w * s_x / s_q), likewise k and v.
    w.wq = export_linear(L->wq, s_ax / s_q, name + "wq", attn_sign);
    w.wk = export_linear(L->wk, s_ax / s_k, name + "wk", attn_sign);
    w.wv = export_linear(L->wv, s_ax / s_v, name + "wv", attn_sign);

    // Scores in 1/256 nat: q.k * s_q s_k / sqrt(head_dim) * 256, one ratio for every head.
    const double score_ratio = s_q * s_k / std::sqrt(double(c.head_dim)) * 256.0;
    w.attention.score_shift = choose_shift(score_ratio, name + "attention scores");
    w.attention.score_multiplier.assign(c.heads, to_multiplier(score_ratio, w.attention.score_shift));
    for (std::uint32_t h = 0; h < c.heads; ++h) w.attention.slope.push_back(alibi_slope(h, c.heads));

    // o is on v's grid; wo adds into the residual: acc * s_w * s_v * 2^bits.
    w.wo = export_linear(L->wo, s_v * residual_unit, name + "wo");

    w.ffn_norm = export_gains(L->ffn_gain, s_fx);
    // t = a / sqrt(s_u) * 16, so u = (t^2 + 128) >> 8 ~ a^2 / s_u.
    w.w1 = export_linear(L->w1, s_fx * 16.0 / std::sqrt(s_u), name + "w1", signs_of(L->ffn_gain));
    w.w2 = export_linear(L->w2, s_u * residual_unit, name + "w2");
    f.layers.push_back(std::move(w));
  }

  const double s_f = scale_of(model->log_s_final_x);
  f.final_norm = export_gains(model->final_gain, s_f);
  // Logits in 1/32 nat.
  f.output = export_linear(model->output, s_f * 32.0, "output", signs_of(model->final_gain));
  return f;
}

// ---------------------------------------------------------------------------
// Import: the inverse of the above, up to the free scales.

// A QuantLinear's multiplier ratios, multiplier / 2^shift = s_w[o] * factor.
static std::vector<double> ratios_of(const QuantLinear& q) {
  std::vector<double> r(q.out);
  for (std::uint32_t o = 0; o < q.out; ++o) r[o] = std::ldexp(double(q.multiplier[o]), -int(q.shift));
  return r;
}

static double mean_ratio(const QuantLinear& q) {
  const auto r = ratios_of(q);
  double sum = 0;
  for (double x : r) sum += x;
  return r.empty() || !(sum > 0) ? 1.0 : sum / double(r.size());
}

// W[o][i] = W_int[o][i] * s_w[o] with s_w[o] = ratio[o] / factor.
static void import_linear(const QuantLinear& q, double factor, torch::Tensor& w) {
  const auto r = ratios_of(q);
  auto out = torch::empty({std::int64_t{q.out}, std::int64_t{q.in}}, torch::kFloat64);
  auto a = out.accessor<double, 2>();
  for (std::uint32_t o = 0; o < q.out; ++o)
    for (std::uint32_t i = 0; i < q.in; ++i) a[o][i] = double(q.weight[std::size_t{o} * q.in + i]) * r[o] / factor;
  w.copy_(out);
}

// Gains g = g_int * s_x / 256 with s_x making their mean 1; returns s_x.
static double import_gains(const std::vector<std::int32_t>& g_int, torch::Tensor& gain) {
  double sum = 0;
  for (auto g : g_int) sum += g;
  const double s_x = sum > 0 ? 256.0 * double(g_int.size()) / sum : 1.0;
  auto out = torch::empty({static_cast<std::int64_t>(g_int.size())}, torch::kFloat64);
  for (std::size_t c = 0; c < g_int.size(); ++c) out[c] = double(g_int[c]) * s_x / 256.0;
  gain.copy_(out);
  return s_x;
}

static void set_scale(torch::Tensor& log_s, double s) { log_s.fill_(std::log(s)); }

int import_network(const ModelFile& f, QatModel& model) {
  torch::NoGradGuard no_grad;
  const ModelConfig& c = model->config();
  const ModelConfig& m = f.config;
  if (m.vocab_size != c.vocab_size || m.width != c.width || m.layers != c.layers || m.heads != c.heads ||
      m.kv_heads != c.kv_heads || m.head_dim != c.head_dim || m.ffn != c.ffn)
    throw std::runtime_error("import: the model file's network is of another shape");
  const auto emb = ratios_of(f.embedding);
  // The residual's unit: a power of two (so the export can pick it again)
  // that puts the largest embedding value at most at 1.
  double max_ratio = 0;
  for (double r : emb) max_ratio = std::max(max_ratio, r);
  const int residual_bits = int(std::ceil(std::log2(std::max(127.0 * max_ratio, 1e-30))));
  const double residual_unit = std::ldexp(1.0, residual_bits);
  import_linear(f.embedding, residual_unit, model->embedding);

  for (std::size_t l = 0; l < f.layers.size(); ++l) {
    const LayerWeights& w = f.layers[l];
    auto& L = model->layers[l];
    const double s_ax = import_gains(w.attn_norm, L->attn_gain);
    // s_q * s_k is fixed by the score multiplier; split so wq's and wk's rows match.
    const double qk = std::ldexp(double(w.attention.score_multiplier.at(0)), -int(w.attention.score_shift)) *
                      std::sqrt(double(c.head_dim)) / 256.0;
    const double s_q = std::sqrt(qk * mean_ratio(w.wk) / mean_ratio(w.wq)), s_k = qk / s_q;
    // wv's and wo's rows: ratio_v * s_v / s_ax against ratio_o / (s_v * unit).
    const double s_v = std::sqrt(mean_ratio(w.wo) * s_ax / (mean_ratio(w.wv) * residual_unit));
    import_linear(w.wq, s_ax / s_q, L->wq);
    import_linear(w.wk, s_ax / s_k, L->wk);
    import_linear(w.wv, s_ax / s_v, L->wv);
    import_linear(w.wo, s_v * residual_unit, L->wo);
    set_scale(L->log_s_attn_x, s_ax);
    set_scale(L->log_s_q, s_q);
    set_scale(L->log_s_k, s_k);
    set_scale(L->log_s_v, s_v);

    const double s_fx = import_gains(w.ffn_norm, L->ffn_gain);
    // w1's and w2's rows: ratio_1 * sqrt(s_u) / (16 s_fx) against ratio_2 / (s_u * unit).
    const double s_u = std::cbrt(std::pow(16.0 * s_fx * mean_ratio(w.w2) / (mean_ratio(w.w1) * residual_unit), 2.0));
    import_linear(w.w1, s_fx * 16.0 / std::sqrt(s_u), L->w1);
    import_linear(w.w2, s_u * residual_unit, L->w2);
    set_scale(L->log_s_ffn_x, s_fx);
    set_scale(L->log_s_u, s_u);
  }
  const double s_f = import_gains(f.final_norm, model->final_gain);
  import_linear(f.output, s_f * 32.0, model->output);
  set_scale(model->log_s_final_x, s_f);
  return residual_bits;
}

}  // namespace trainer
}  // namespace lmzip

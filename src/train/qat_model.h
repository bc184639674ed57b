// The float32 network that training optimizes: the integer network of
// docs/model-format.md with every rounding and clamp it does simulated
// ("fake quantization"), gradients passed straight through the roundings.
//
// Real-valued view of the integer network. Every int8 activation x_int
// stands for x = x_int * s, with one scale s per quantization point:
//   s_x  norm outputs (attn, ffn, final)      s_q, s_k, s_v  attention
//   s_u  squared-ReLU output (0..127)         weights: one scale per row
// The residual stream is not quantized in training: the integer network keeps
// it in fixed point with ~22 significant bits, far finer than anything else.
//
// Activation scales are learned (LSQ: the scale gets the gradient of the
// rounded, clamped value), stored as log(scale) so Adam's steps are relative.
// Learned rather than a running abs-max: an 8-bit grid over a heavy-tailed
// activation (squared ReLU above all) is best placed by the loss, which
// trades clipping a rare outlier against resolution for everything else.
// They start from the abs-max of a first batch (calibrate()).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "model/model_file.h"

namespace lmzip {
namespace trainer {

// Per-row weight scales max|row| / 127 ([out][1]) and the int8 values
// round(w / s) in [-127, 127]: what training simulates and the export writes.
torch::Tensor row_scales(const torch::Tensor& w);
torch::Tensor int_weights(const torch::Tensor& w);

// ALiBi slope of head h in 1/256 nat per position: 2^(-8(h+1)/heads) nats.
std::int32_t alibi_slope(std::uint32_t head, std::uint32_t heads);

// The integer network's attention weights (differentiable) from scores
// [B][H][Tq][Tk] in nats, slopes [H] in nats per position and the ATT_EXP table
// (attention_exp_table() on the scores' device): a fused loop over rows on
// the CPU, tensor ops on other devices or when tensor_ops is set. Row r is
// the query at position query_first + r, column c the key at key_first + c;
// the keys must reach the last query.
torch::Tensor attention_weights(const torch::Tensor& scores, const torch::Tensor& slopes,
                                const torch::Tensor& att_exp, std::int64_t window, bool tensor_ops = false,
                                std::int64_t query_first = 0, std::int64_t key_first = 0);
torch::Tensor attention_exp_table();  // float32 [160], on the CPU

// An int8 activation: x_int = clamp(round(x / s), lo, hi), standing for
// x_int * s, s = exp(log_s). Inside the range the gradient passes straight
// through to x; the scale gets LSQ's gradient (round(x/s) - x/s inside, the
// clamp bound outside). A fused loop on the CPU, tensor ops on other devices
// or when tensor_ops is set.
torch::Tensor fake_quant(const torch::Tensor& x, const torch::Tensor& log_s, double lo, double hi,
                         bool tensor_ops = false);
// Integer: t = min(round_shift(max(a, 0) * w1.multiplier, w1.shift), 4095) with
// multiplier/2^shift = 16 / sqrt(s_u) (in a's units), then u = min((t^2 + 128) >> 8, 127),
// so u ~ relu(a)^2 / s_u. Simulated exactly; the gradient is that of relu(a)^2
// inside the range, the scale's LSQ's. Fused on the CPU as fake_quant.
torch::Tensor squared_relu_quant(const torch::Tensor& a, const torch::Tensor& log_s_u, bool tensor_ops = false);
// RMSNorm over the last dimension, r / sqrt(mean(r^2) + 1e-12) * gain: a
// fused loop on the CPU, tensor ops on other devices or when tensor_ops is set.
torch::Tensor rms_norm(const torch::Tensor& r, const torch::Tensor& gain, bool tensor_ops = false);

// Whether bf16_linear can run: the oneDNN that Debian's libtorch loads has
// its bf16 GEMM and this CPU runs it (AVX-512). PyPI's libtorch keeps its
// oneDNN to itself: false there.
bool bf16_products_available();

// The linear layer y = x w_q^T with w_q = quant_rows(w), for x an int8
// activation x_int * s_x (fake_quant's or squared_relu_quant's output), with
// both sides' integers in bf16 (exact) and float32 sums: the forward products
// are the integer network's exactly (while they stay below 2^24: inner sizes
// up to 1040 at 127 x 127). The backward products round the
// gradient to bf16 (8 significant bits), with float32 sums. CPU only.
torch::Tensor bf16_linear(const torch::Tensor& x, double s_x, const torch::Tensor& w);
// The attention's products the same way, batched over the leading
// dimensions: scores q k^T for int8 activations q and k (exact forward), and
// a v for attention weights a and an int8 activation v (float32 forward).
torch::Tensor bf16_scores(const torch::Tensor& q, const torch::Tensor& k, double s_q, double s_k);
torch::Tensor bf16_weighted_values(const torch::Tensor& a, const torch::Tensor& v, double s_v);

struct QatLayerImpl : torch::nn::Module {
  QatLayerImpl(const ModelConfig& c, double init_std, double out_std);
  torch::Tensor attn_gain, wq, wk, wv, wo;
  torch::Tensor ffn_gain, w1, w2;
  // log of the activation scales
  torch::Tensor log_s_attn_x, log_s_q, log_s_k, log_s_v, log_s_ffn_x, log_s_u;
};
TORCH_MODULE(QatLayer);

class QatModelImpl : public torch::nn::Module {
 public:
  explicit QatModelImpl(const ModelConfig& config);

  // tokens [B][T] (int64, BOS = V first) -> logits [B][T][V] in nats.
  torch::Tensor forward(const torch::Tensor& tokens);

  // Sets every activation scale from the abs-max seen on `tokens`, run
  // without quantization.
  void calibrate(const torch::Tensor& tokens);
  // Largest |residual| (after the embedding and after every add) over tokens,
  // for the fixed point the export picks.
  double residual_absmax(const torch::Tensor& tokens);

  // Parameters that get weight decay (the matrices but the embedding) and the rest.
  std::vector<torch::Tensor> decayed_parameters() const;
  std::vector<torch::Tensor> other_parameters() const;

  const ModelConfig& config() const { return config_; }

  torch::Tensor embedding;   // [V+1][d]
  std::vector<QatLayer> layers;
  torch::Tensor final_gain;  // [d]
  torch::Tensor output;      // [V][d]
  torch::Tensor log_s_final_x;
  // Queries per attention block (each against the keys its windows reach);
  // 0: max(64, window / 2).
  std::int64_t attention_block = 0;
  // The linear layers' and the attention's products through bf16_linear,
  // bf16_scores and bf16_weighted_values (on the CPU, when available),
  // instead of float32 products.
  bool bf16_products = false;

 private:
  torch::Tensor quant(const torch::Tensor& x, const torch::Tensor& log_s, double lo, double hi);
  torch::Tensor squared_relu_quant(const torch::Tensor& a, const torch::Tensor& log_s_u);
  torch::Tensor norm(const torch::Tensor& r, const torch::Tensor& gain);
  // x w_q^T, for x an int8 activation of scale exp(log_s_x).
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& log_s_x, const torch::Tensor& w);
  torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const QatLayer& layer);

  ModelConfig config_;
  // ALiBi slopes in nats [heads] (the integer ones / 256) and attention_exp_table(),
  // on the device of the last forward.
  torch::Tensor slopes_, att_exp_;

  // Observation modes (no quantization, statistics gathered).
  bool calibrating_ = false;
  std::map<torch::TensorImpl*, double> absmax_;  // keyed by the log-scale parameter
  bool watch_residual_ = false;
  double residual_max_ = 0;
};
TORCH_MODULE(QatModel);

}  // namespace trainer
}  // namespace lmzip

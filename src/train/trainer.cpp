// `lmzip train`: data -> float network with the integer inference simulated
// -> AdamW -> integer model file, measured against the float network.
#include "train/trainer.h"

#include <dlfcn.h>
#include <malloc.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "model/exp_tables.h"
#include "model/network.h"
#include "train/dataset.h"
#include "train/export.h"
#include "train/qat_model.h"

namespace fs = std::filesystem;

namespace lmzip {
namespace {

using trainer::Corpus;
using trainer::QatModel;
using trainer::Rng;

// ---------------------------------------------------------------------------
// Device, threads and signals

// "auto": the GPU when libtorch has CUDA and sees one.
torch::Device pick_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name != "auto" && name != "cuda")
    throw std::runtime_error("unknown device '" + name + "' (auto, cpu or cuda)");
  if (torch::cuda::is_available()) return torch::Device(torch::kCUDA, 0);
  if (name == "auto") return torch::kCPU;
  throw std::runtime_error(
      "--device cuda, but no CUDA GPU is usable (this lmzip's libtorch has no CUDA, or no GPU or driver "
      "was found); use --device cpu");
}

bool use_bf16_products(const std::string& matmul, torch::Device device) {
  if (matmul == "f32" || (matmul == "auto" && !device.is_cpu())) return false;
  if (!device.is_cpu()) throw std::runtime_error("--matmul bf16 is for training on the CPU");
  if (trainer::bf16_products_available()) return true;
  if (matmul == "auto") return false;
  throw std::runtime_error(
      "--matmul bf16: this CPU or libtorch lacks oneDNN's bf16 GEMM (it needs AVX-512 and Debian's libtorch); "
      "use --matmul f32");
}

void set_threads(int n) {
  n = std::max(1, n);
  at::set_num_threads(n);
  // Debian's libtorch does its GEMMs in OpenBLAS, whose own thread pool does
  // not follow ATen's setting: set it too when OpenBLAS is loaded.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
}

// glibc serves blocks over 32 MB (most activations of a training step) with
// fresh mmaps, and the kernel zeroes every page of them again on each step:
// a quarter of the step time in page faults. While training, keep freed
// memory in the heap for reuse instead.
class KeepFreedMemory {
 public:
  KeepFreedMemory() {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  }
  ~KeepFreedMemory() {
    mallopt(M_MMAP_MAX, 65536);             // glibc's defaults
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    malloc_trim(0);
  }
  KeepFreedMemory(const KeepFreedMemory&) = delete;
  KeepFreedMemory& operator=(const KeepFreedMemory&) = delete;
};

volatile std::sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) { g_stop_signal = sig; }

// SIGINT and SIGTERM only raise a flag: the step in flight finishes, a
// checkpoint is written, then training returns. The old handlers come back
// when training ends.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// ---------------------------------------------------------------------------
// Checkpoints: model (weights and activation scales), optimizer moments, step,
// data sampler state and training time, in one file written to a temporary
// name and renamed.

struct RunState {
  std::uint64_t step = 0;
  Rng rng;
  double train_seconds = 0;
};

std::string model_config_text(const ModelConfig& c) {
  std::ostringstream s;
  s << "vocab " << c.vocab_size << " width " << c.width << " layers " << c.layers << " heads " << c.heads
    << " kv_heads " << c.kv_heads << " head_dim " << c.head_dim << " ffn " << c.ffn << " window " << c.window;
  return s.str();
}

std::string run_settings_text(const TrainOptions& o) {
  std::ostringstream s;
  s << "steps " << o.steps << " batch " << o.batch << " sequence " << o.sequence << " lr " << o.learning_rate
    << " seed " << o.seed;
  if (o.schedule != "cosine")
    s << " schedule " << o.schedule << " warmup " << o.warmup_steps << " decay " << o.decay_steps;
  return s.str();
}

torch::Tensor string_tensor(const std::string& s) {
  return torch::from_blob(const_cast<char*>(s.data()), {static_cast<std::int64_t>(s.size())}, torch::kUInt8)
      .clone();
}

std::string tensor_string(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), c.numel());
}

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.pt"; }

// Moves the weights and Adam's moments (in place: the optimizer keeps
// referring to the same parameters).
void move_training_state(QatModel& model, torch::optim::AdamW& optimizer, torch::Device device) {
  model->to(device);
  for (auto& item : optimizer.state()) {
    auto& s = static_cast<torch::optim::AdamWParamState&>(*item.second);
    s.exp_avg(s.exp_avg().to(device));
    s.exp_avg_sq(s.exp_avg_sq().to(device));
    if (s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(s.max_exp_avg_sq().to(device));
  }
}

// Checkpoints hold CPU tensors, so a run started on a GPU resumes on a CPU
// and the other way round.
void save_checkpoint(const std::string& dir, QatModel& model, torch::optim::AdamW& optimizer, const RunState& s,
                     const TrainOptions& options, torch::Device device) {
  if (!device.is_cpu()) move_training_state(model, optimizer, torch::kCPU);
  torch::serialize::OutputArchive root, weights, moments;
  model->save(weights);
  optimizer.save(moments);
  root.write("model", weights);
  root.write("optimizer", moments);
  root.write("step", torch::tensor(static_cast<std::int64_t>(s.step)));
  const auto rng = s.rng.state();
  root.write("rng", torch::from_blob(const_cast<std::uint64_t*>(rng.data()), {4}, torch::kInt64).clone());
  root.write("train_seconds", torch::tensor(s.train_seconds, torch::kFloat64));
  root.write("model_config", string_tensor(model_config_text(model->config())));
  root.write("settings", string_tensor(run_settings_text(options)));
  const std::string path = checkpoint_path(dir), temp = path + ".tmp";
  root.save_to(temp);
  fs::rename(temp, path);
  if (!device.is_cpu()) move_training_state(model, optimizer, device);
}

bool load_checkpoint(const std::string& dir, QatModel& model, torch::optim::AdamW& optimizer, RunState& s,
                     const TrainOptions& options, torch::Device device) {
  const std::string path = checkpoint_path(dir);
  if (dir.empty() || !fs::exists(path)) return false;
  torch::serialize::InputArchive root, weights, moments;
  // Every tensor onto the training device: read() into a parameter on
  // another device would move the parameter.
  root.load_from(path, device);
  // A fresh tensor per read: read() into a defined tensor keeps its type.
  auto read = [&root](const char* key) {
    torch::Tensor t;
    root.read(key, t);
    return t.cpu();
  };
  const std::string config = tensor_string(read("model_config"));
  if (config != model_config_text(model->config()))
    throw std::runtime_error("the checkpoint in " + dir + " is of another network (" + config +
                             "); use another checkpoint folder or the same settings");
  const std::string settings = tensor_string(read("settings"));
  if (settings != run_settings_text(options))
    std::cerr << "train: warning: the checkpoint was made with " << settings << "; continuing with "
              << run_settings_text(options) << "\n";
  root.read("model", weights);
  model->load(weights);
  root.read("optimizer", moments);
  optimizer.load(moments);
  s.step = static_cast<std::uint64_t>(read("step").item<std::int64_t>());
  std::array<std::uint64_t, 4> rng;
  std::memcpy(rng.data(), read("rng").contiguous().data_ptr<std::int64_t>(), sizeof rng);
  s.rng.set_state(rng);
  s.train_seconds = read("train_seconds").item<double>();
  return true;
}

// ---------------------------------------------------------------------------
// Held-out measurements. A chunk of `length` symbols is coded like a
// compressed chunk: BOS, then each symbol predicted from those before it.

struct HeldOut {
  std::uint32_t length = 0;
  std::vector<std::uint64_t> chunks;  // offsets into corpus.held
  std::uint64_t bytes = 0;            // bytes the chunks' symbols stand for
};

HeldOut pick_heldout(const Corpus& corpus, const TrainOptions& o) {
  HeldOut h;
  h.length = std::min<std::uint32_t>(4096, std::max(o.sequence, 4 * o.config.window));
  while (true) {
    h.chunks = trainer::heldout_chunks(corpus, h.length, std::max<std::uint32_t>(1, o.eval_chunks));
    if (!h.chunks.empty() || h.length <= 16) break;
    h.length /= 2;
  }
  if (h.chunks.empty()) throw std::runtime_error("too little held-out data: raise --holdout or add data");
  for (auto at : h.chunks) h.bytes += corpus.bytes_of(&corpus.held[at], h.length);
  return h;
}

struct FloatCost {
  double nats = 0;             // total, float softmax
  double int_output_bits = 0;  // total, the same logits through the integer output table
  std::uint64_t symbols = 0;
};

FloatCost measure_float(QatModel& model, const Corpus& corpus, const HeldOut& h, bool int_output,
                        torch::Device device) {
  torch::NoGradGuard no_grad;
  const std::int64_t L = h.length, V = corpus.vocab_size();
  // Attention holds [chunks][heads][L][L]: keep it near 8M entries.
  const std::int64_t per_batch =
      std::max<std::int64_t>(1, (std::int64_t{8} << 20) / (std::int64_t{model->config().heads} * L * L));
  torch::Tensor out_exp;
  if (int_output) {
    out_exp = torch::empty({384}, torch::kFloat64);
    for (int i = 0; i < 384; ++i) out_exp[i] = double(kOutExp[i]);
    out_exp = out_exp.to(device);
  }
  FloatCost cost;
  for (std::size_t first = 0; first < h.chunks.size(); first += per_batch) {
    const std::int64_t n = std::min<std::int64_t>(per_batch, h.chunks.size() - first);
    auto inputs = torch::empty({n, L}, torch::kInt64), targets = torch::empty({n, L}, torch::kInt64);
    auto in = inputs.accessor<std::int64_t, 2>(), tg = targets.accessor<std::int64_t, 2>();
    for (std::int64_t b = 0; b < n; ++b) {
      const std::uint16_t* chunk = &corpus.held[h.chunks[first + b]];
      in[b][0] = V;
      for (std::int64_t i = 0; i < L; ++i) {
        tg[b][i] = chunk[i];
        if (i + 1 < L) in[b][i + 1] = chunk[i];
      }
    }
    inputs = inputs.to(device);
    targets = targets.to(device);
    const auto logits = model->forward(inputs);
    const auto logp = torch::log_softmax(logits, -1);
    cost.nats -= logp.gather(-1, targets.unsqueeze(-1)).sum().item<double>();
    cost.symbols += n * L;
    if (int_output) {
      // z in 1/32 nat; freq = 1 + OUT_EXP[min(m - z, 383)].
      const auto z = torch::floor(logits.to(torch::kFloat64) * 32 + 0.5);
      const auto index = (z.amax(-1, true) - z).clamp_max(383).to(torch::kInt64);
      const auto freq = out_exp.index({index}) + 1;
      cost.int_output_bits +=
          (torch::log2(freq.sum(-1)) - torch::log2(freq.gather(-1, targets.unsqueeze(-1)).squeeze(-1)))
              .sum()
              .item<double>();
    }
  }
  return cost;
}

// Bits of the held-out chunks under the integer network, all chunks stepped
// in lock-step through the CPU predictor, as the compressor does.
double measure_integer_bits(const ModelFile& model, const Corpus& corpus, const HeldOut& h) {
  const auto n = static_cast<std::uint32_t>(h.chunks.size());
  const std::uint32_t V = model.config.vocab_size;
  auto predictor = make_cpu_predictor(model, n);
  std::vector<std::uint32_t> slots(n), symbols(n), freqs(std::size_t{n} * V);
  for (std::uint32_t i = 0; i < n; ++i) {
    slots[i] = i;
    predictor->reset(i);
  }
  double bits = 0;
  for (std::uint32_t t = 0; t < h.length; ++t) {
    for (std::uint32_t i = 0; i < n; ++i) symbols[i] = t == 0 ? V : corpus.held[h.chunks[i] + t - 1];
    predictor->step(slots.data(), symbols.data(), n, freqs.data());
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t* table = &freqs[std::size_t{i} * V];
      std::uint64_t total = 0;
      for (std::uint32_t s = 0; s < V; ++s) total += table[s];
      bits += std::log2(double(total)) - std::log2(double(table[corpus.held[h.chunks[i] + t]]));
    }
  }
  return bits;
}

// The options with init_model's tokenizer and network shape (and window and
// chunk size where they are 0); `file` and `id` get the model.
TrainOptions with_init_model(const TrainOptions& given, ModelFile& file, Sha256Digest& id) {
  TrainOptions o = given;
  if (!given.sentencepiece_model.empty() || given.vocab_size != 0)
    throw std::runtime_error("train: the tokenizer comes from the initial model " + given.init_model +
                             "; leave out the SentencePiece model and vocabulary size");
  try {
    file = ModelFile::load(given.init_model, &id);
  } catch (const std::exception& e) {
    throw std::runtime_error("train: the initial model: " + std::string(e.what()));
  }
  o.tokenizer = file.tokenizer == TokenizerKind::SentencePiece ? "sentencepiece" : "bytes";
  const ModelConfig& m = file.config;
  o.config.vocab_size = m.vocab_size;
  o.config.width = m.width;
  o.config.layers = m.layers;
  o.config.heads = m.heads;
  o.config.kv_heads = m.kv_heads;
  o.config.head_dim = m.head_dim;
  o.config.ffn = m.ffn;
  if (o.config.window == 0) o.config.window = m.window;
  if (o.config.chunk_bytes == 0) o.config.chunk_bytes = m.chunk_bytes;
  return o;
}

void check_options(const TrainOptions& o) {
  const auto& c = o.config;
  auto fail = [](const std::string& what) { throw std::runtime_error("train: " + what); };
  if (o.inputs.empty()) fail("no inputs");
  if (o.output.empty() && o.stop_after == 0) fail("no output file");
  if (o.steps == 0 || o.batch == 0 || o.sequence < 2) fail("steps, batch and sequence (>= 2) must be positive");
  if (!(o.learning_rate > 0)) fail("the learning rate must be positive");
  if (o.schedule != "cosine" && o.schedule != "wsd") fail("unknown schedule '" + o.schedule + "' (cosine or wsd)");
  if (o.warmup_steps >= o.steps) fail("the warmup must be shorter than the steps");
  if (o.decay_steps > o.steps) fail("the decay cannot be longer than the steps");
  if (c.heads == 0 || c.kv_heads == 0 || c.heads % c.kv_heads) fail("kv_heads must divide heads");
  if (c.width == 0 || c.layers == 0 || c.head_dim == 0 || c.ffn == 0 || c.window == 0) fail("empty network size");
  if (o.matmul != "auto" && o.matmul != "bf16" && o.matmul != "f32")
    fail("unknown --matmul '" + o.matmul + "' (auto, bf16 or f32)");
}

// A training batch on the device. On a GPU from fresh pinned memory, copied
// without waiting: the pinned allocator reuses a block only after its copy.
struct Batch {
  torch::Tensor inputs, targets;
};
Batch draw_batch(const Corpus& corpus, Rng& rng, std::uint32_t B, std::uint32_t T, torch::Device device) {
  const auto host = torch::TensorOptions(torch::kInt64).pinned_memory(device.is_cuda());
  auto inputs = torch::empty({B, T}, host), targets = torch::empty({B * T}, host);
  trainer::sample_batch(corpus, rng, B, T, inputs.data_ptr<std::int64_t>(), targets.data_ptr<std::int64_t>());
  return {inputs.to(device, /*non_blocking=*/true), targets.to(device, /*non_blocking=*/true)};
}

// torch::nn::utils::clip_grad_norm_ less its host sync (it returns the norm).
void clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> grads, norms;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    grads.push_back(p.grad());
    norms.push_back(p.grad().norm());
  }
  if (grads.empty()) return;
  const auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm();
  const auto coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (auto& g : grads) g.mul_(coefficient);
}

}  // namespace

double learning_rate_at(std::uint64_t step, const TrainOptions& o) {
  const std::uint64_t warmup =
      o.warmup_steps ? o.warmup_steps : std::max<std::uint64_t>(1, std::min<std::uint64_t>(o.steps / 20, 1000));
  if (step < warmup) return o.learning_rate * double(step + 1) / double(warmup);
  if (o.schedule == "wsd") {
    const std::uint64_t decay = std::max<std::uint64_t>(1, o.decay_steps ? o.decay_steps : o.steps / 5);
    const std::uint64_t decay_start = o.steps - std::min(decay, o.steps);
    if (step < decay_start) return o.learning_rate;
    return o.learning_rate * (1 - std::sqrt(std::min(1.0, double(step - decay_start) / double(decay))));
  }
  const double progress = double(step - warmup) / double(std::max<std::uint64_t>(1, o.steps - warmup));
  return o.learning_rate * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress))));
}

TrainReport train_with_report(const TrainOptions& given) {
  ModelFile init;
  Sha256Digest init_id{};
  const TrainOptions options = given.init_model.empty() ? given : with_init_model(given, init, init_id);
  check_options(options);
  const torch::Device device = pick_device(options.device);
  const bool bf16_products = use_bf16_products(options.matmul, device);
  set_threads(options.threads);
  const std::string& dir = options.checkpoint_dir;
  if (!dir.empty()) fs::create_directories(dir);
  StopSignals stop_signals;
  KeepFreedMemory keep_freed_memory;

  const Corpus corpus = trainer::prepare_corpus(options, dir, init.sentencepiece_model);
  ModelConfig config = options.config;
  config.vocab_size = corpus.vocab_size();
  if (!options.init_model.empty() && (config.vocab_size != init.config.vocab_size || corpus.tokenizer->pieces() != init.pieces))
    throw std::runtime_error("train: the initial model's tokenizer does not give its own vocabulary");
  const HeldOut heldout = pick_heldout(corpus, options);
  std::cerr << "train: " << corpus.files.size() << " files, " << corpus.train.size() << " training symbols, "
            << "held-out sample " << heldout.chunks.size() << " chunks of " << heldout.length << " symbols ("
            << heldout.bytes << " bytes); training on " << device.str()
            << (bf16_products ? " (bf16 products)" : "") << "\n";

  torch::manual_seed(options.seed);
  QatModel model(config);  // initialized on the CPU: the same weights on every device
  if (!options.init_model.empty()) {
    trainer::import_network(init, model);
    std::cerr << "train: starting from " << options.init_model << " (" << init.name << ", id "
              << to_hex(init_id).substr(0, 16) << ")\n";
  }
  model->to(device);
  model->bf16_products = bf16_products;
  using torch::optim::AdamWOptions;
  const auto adam = [&](double decay) {
    return std::make_unique<AdamWOptions>(
        AdamWOptions(options.learning_rate).betas({0.9, 0.95}).eps(1e-8).weight_decay(decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(model->decayed_parameters(), adam(0.1));
  groups.emplace_back(model->other_parameters(), adam(0.0));
  torch::optim::AdamW optimizer(groups, AdamWOptions(options.learning_rate));

  RunState state{0, Rng(options.seed), 0};
  const std::uint32_t B = options.batch, T = options.sequence;

  if (load_checkpoint(dir, model, optimizer, state, options, device)) {
    std::cerr << "train: resumed from " << checkpoint_path(dir) << " at step " << state.step << "\n";
  } else if (options.init_model.empty()) {
    model->calibrate(draw_batch(corpus, state.rng, B, T, device).inputs);
  }

  TrainReport report;
  report.device = device.is_cpu() ? "cpu" : "cuda";
  const std::uint64_t first_step = state.step;
  const std::uint64_t log_every = 10;
  // The losses since the last log line, summed on the device: read (a host
  // sync) only for the log and before a checkpoint.
  torch::Tensor logged_loss;
  double window_tokens = 0;
  std::uint64_t logged_steps = 0;
  auto check_loss = [&](double loss_sum) {
    if (!std::isfinite(loss_sum))
      throw std::runtime_error("the loss is not finite (by step " + std::to_string(state.step) + ")");
    return loss_sum;
  };
  const auto run_start = std::chrono::steady_clock::now();
  auto log_start = run_start;
  const auto params = model->parameters();
  bool stopped = false;

  auto held_out_line = [&]() {
    const FloatCost c = measure_float(model, corpus, heldout, false, device);
    std::cerr << "train: step " << state.step << " held-out loss " << std::fixed << std::setprecision(4)
              << c.nats / double(c.symbols) << " nats/symbol, " << c.nats / std::log(2.0) / double(heldout.bytes)
              << " bits/byte\n";
  };

  while (state.step < options.steps && !stopped) {
    const Batch batch = draw_batch(corpus, state.rng, B, T, device);
    const auto logits = model->forward(batch.inputs);
    const auto loss = torch::nn::functional::cross_entropy(
        logits.view({-1, std::int64_t{config.vocab_size}}), batch.targets,
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
    optimizer.zero_grad();
    loss.backward();
    clip_grad_norm(params, 1.0);
    const double lr = learning_rate_at(state.step, options);
    for (auto& group : optimizer.param_groups()) static_cast<AdamWOptions&>(group.options()).lr(lr);
    optimizer.step();
    ++state.step;

    const auto loss_value = loss.detach().to(torch::kFloat64);
    if (state.step == first_step + 1) report.first_loss = check_loss(loss_value.item<double>());
    logged_loss = logged_loss.defined() ? logged_loss + loss_value : loss_value;
    ++logged_steps;
    window_tokens += double(B) * T;

    if (state.step % log_every == 0 || state.step == options.steps) {
      // Read first: waiting for the device makes the time the device's.
      report.last_loss = check_loss(logged_loss.item<double>()) / double(logged_steps);
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - log_start).count();
      state.train_seconds += seconds;
      std::cerr << "train: step " << state.step << "/" << options.steps << " loss " << std::fixed
                << std::setprecision(4) << report.last_loss << " lr " << std::scientific << std::setprecision(2)
                << lr << std::fixed << std::setprecision(0) << " " << window_tokens / seconds << " symbols/s\n";
      logged_loss = torch::Tensor();
      logged_steps = 0;
      window_tokens = 0;
      log_start = now;
    }
    if (options.eval_every && state.step % options.eval_every == 0 && state.step < options.steps) {
      held_out_line();
      log_start = std::chrono::steady_clock::now();  // not counted as training time
    }

    stopped = g_stop_signal != 0 || state.step == options.stop_after;
    const bool periodic = options.checkpoint_every && state.step % options.checkpoint_every == 0;
    if (!dir.empty() && (periodic || stopped || state.step == options.steps)) {
      if (logged_loss.defined()) check_loss(logged_loss.item<double>());
      save_checkpoint(dir, model, optimizer, state, options, device);
    }
  }
  report.step = state.step;
  const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  report.steps_per_second = double(state.step - first_step) / std::max(run_seconds, 1e-9);
  if (logged_steps) report.last_loss = check_loss(logged_loss.item<double>()) / double(logged_steps);
  if (stopped) {
    report.interrupted = g_stop_signal != 0;
    std::cerr << "train: stopped at step " << state.step
              << (dir.empty() ? std::string() : "; checkpoint in " + dir + ", run again to resume") << "\n";
    return report;
  }

  // ---- Export.
  // The residual's fixed point: from the largest |residual| on training
  // batches (a generator of its own, so the data order stays the seed's) and
  // on the held-out sample.
  double residual_max = 0;
  {
    Rng calibration_rng(options.seed ^ 0x5eedca1bULL);
    for (int i = 0; i < 4; ++i)
      residual_max =
          std::max(residual_max, model->residual_absmax(draw_batch(corpus, calibration_rng, B, T, device).inputs));
  }
  const int residual_bits = trainer::residual_bits_for(residual_max);
  ModelFile file = trainer::export_network(model, residual_bits);
  file.config.chunk_bytes = options.config.chunk_bytes;
  file.name = options.name;
  file.tokenizer = corpus.tokenizer_kind == "bytes" ? TokenizerKind::Bytes : TokenizerKind::SentencePiece;
  file.sentencepiece_model = corpus.sentencepiece_model;
  file.pieces = corpus.tokenizer->pieces();
  file.piece_scores = corpus.piece_scores;
  const std::uint32_t selftest_count = std::min<std::uint32_t>(64, heldout.length);
  file.selftest_symbols.assign(&corpus.held[heldout.chunks[0]], &corpus.held[heldout.chunks[0]] + selftest_count);
  fill_selftest(file);

  // ---- Float against integer, on the same held-out sample.
  const FloatCost fc = measure_float(model, corpus, heldout, true, device);
  const auto int_start = std::chrono::steady_clock::now();
  const double integer_bits = measure_integer_bits(file, corpus, heldout);
  const double int_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - int_start).count();
  const double bytes = double(heldout.bytes);
  report.float_bpb = fc.nats / std::log(2.0) / bytes;
  report.float_int_output_bpb = fc.int_output_bits / bytes;
  report.integer_bpb = integer_bits / bytes;
  report.exported = true;
  std::cerr << std::fixed << std::setprecision(4) << "train: held-out sample (" << heldout.chunks.size()
            << " chunks x " << heldout.length << " symbols, " << heldout.bytes << " bytes): float "
            << report.float_bpb << " bits/byte, float through the integer output table "
            << report.float_int_output_bpb << ", integer " << report.integer_bpb << " ("
            << std::showpos << std::setprecision(2) << 100.0 * (report.integer_bpb / report.float_bpb - 1)
            << std::noshowpos << "% against float; residual fixed point " << residual_bits
            << " bits; integer network " << std::setprecision(0)
            << double(heldout.chunks.size()) * heldout.length / int_seconds << " symbols/s)\n";

  std::ostringstream description;
  description << std::fixed << "Trained by lmzip train on " << corpus.files.size() << " files ("
              << corpus.total_bytes << " bytes) from";
  for (const auto& input : options.inputs) description << " " << fs::path(input).filename().string();
  description << "; " << corpus.tokenizer_kind << " tokenizer, " << config.vocab_size << " symbols; "
              << state.step << " steps of " << B << " x " << T << " symbols, learning rate "
              << std::setprecision(4) << options.learning_rate << ", seed " << options.seed
              << (options.init_model.empty() ? std::string()
                                             : ", starting from model " + init.name + " (id " + to_hex(init_id).substr(0, 16) + ")")
              << ", "
              << std::setprecision(2) << state.train_seconds / 3600.0 << " hours of training; held-out "
              << std::setprecision(4) << report.integer_bpb << " bits/byte (float " << report.float_bpb << ").";
  file.description = description.str();
  file.save(options.output);
  std::cerr << "train: wrote " << options.output << "\n";
  return report;
}

void train(const TrainOptions& options) {
  const TrainReport report = train_with_report(options);
  if (report.interrupted)
    throw std::runtime_error("training interrupted at step " + std::to_string(report.step) +
                             (options.checkpoint_dir.empty()
                                  ? std::string()
                                  : "; checkpoint saved in " + options.checkpoint_dir +
                                        ", run the same command again to resume"));
}

}  // namespace lmzip

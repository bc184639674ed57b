// `lmzip train`: tokenizer and network training with the integer inference
// simulated (fake quantization), export to a model file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model_file.h"

namespace lmzip {

struct TrainOptions {
  std::vector<std::string> inputs;   // files and folders (recursively)
  std::string output;                // model file to write
  std::string checkpoint_dir;        // checkpoints, resumed from if present
  std::string name = "default";
  std::string tokenizer = "bytes";   // "bytes" or "sentencepiece"
  std::uint32_t vocab_size = 0;      // sentencepiece only (0: 4096)
  // A trained SentencePiece model file to tokenize with instead of training
  // one with spm_train (sentencepiece only).
  std::string sentencepiece_model;
  // A model file to start from (to fine-tune it, or to train a shipped model
  // on): its tokenizer and network shape replace those above, but for a
  // window or chunk size of 0 in `config`, which take the file's.
  std::string init_model;
  ModelConfig config;                // vocab_size is set from the tokenizer
  std::uint64_t steps = 10000;
  std::uint32_t batch = 32;          // sequences per step
  std::uint32_t sequence = 256;      // symbols per sequence
  double learning_rate = 3e-3;
  // "cosine": warmup, then cosine decay to a tenth at `steps`. "wsd": warmup,
  // constant, then 1 - sqrt decay to zero over the last `decay_steps`; a
  // constant run can be resumed in a copy of its folder with a nearer
  // `steps` to cool down and export, while the constant run goes on.
  std::string schedule = "cosine";
  std::uint64_t warmup_steps = 0;    // 0: steps / 20, at most 1000
  std::uint64_t decay_steps = 0;     // wsd; 0: steps / 5
  double holdout = 0.01;             // fraction of the data held out
  std::uint64_t seed = 1;
  std::uint64_t eval_every = 500;
  std::uint64_t checkpoint_every = 500;
  int threads = 2;                   // CPU threads: tokenizing, CPU training, export checks
  std::string device = "auto";       // "auto" (CUDA when available), "cpu" or "cuda"
  // The linear layers' matrix products on the CPU: "bf16" (integers in bf16,
  // float32 sums; gradients rounded to bf16), "f32", or "auto": bf16 where
  // available (trainer::bf16_products_available), else f32.
  std::string matmul = "auto";
  // Stop after this step (with a checkpoint) and return without exporting;
  // 0: train to `steps`. For running a long training in slices, and tests.
  std::uint64_t stop_after = 0;
  // Held-out chunks measured (each 4 windows long, at least `sequence`).
  std::uint32_t eval_chunks = 64;
};

// What a training run measured.
struct TrainReport {
  std::uint64_t step = 0;           // steps done (counting resumed ones)
  std::string device;               // where it trained: "cpu" or "cuda"
  bool exported = false;            // false when stopped early (signal, stop_after)
  bool interrupted = false;         // stopped by SIGINT/SIGTERM (after a checkpoint)
  double first_loss = 0;            // training loss of the first step of this run, nats/symbol
  double last_loss = 0;             // mean training loss of the last logged steps
  double steps_per_second = 0;      // this run
  double float_bpb = 0;             // held-out sample, float (fake-quantized) network
  double float_int_output_bpb = 0;  // the same logits through the integer output table
  double integer_bpb = 0;           // the exported integer network, same sample
};

// The learning rate of a step (counted from 0) under options' schedule.
double learning_rate_at(std::uint64_t step, const TrainOptions& options);

// Trains and writes options.output. Throws std::runtime_error on failure,
// and when SIGINT or SIGTERM stopped it (after saving a checkpoint).
void train(const TrainOptions& options);
// The same, reporting instead of throwing when stopped by a signal.
TrainReport train_with_report(const TrainOptions& options);

}  // namespace lmzip

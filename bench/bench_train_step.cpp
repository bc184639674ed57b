// Seconds a training step's forward and backward take on the CPU (no
// optimizer, no data loading): the QatModel of a given shape on random
// tokens, cross entropy, backward. Usage:
//   bench_train_step [--width 192 --layers 3 --heads 6 --kv-heads 1 --head-dim 32 --ffn 768
//                     --window 256 --vocab 2048 --batch 32 --sequence 512 --steps 3 --threads 2
//                     --bf16 0]  (1: the linear layers' and attention's products in bf16, QatModel::bf16_products)
#include <malloc.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "train/qat_model.h"

int main(int argc, char** argv) {
  lmzip::ModelConfig c;
  c.vocab_size = 2048;
  c.width = 192;
  c.layers = 3;
  c.heads = 6;
  c.kv_heads = 1;
  c.head_dim = 32;
  c.ffn = 768;
  c.window = 256;
  long batch = 32, sequence = 512, steps = 3, threads = 2, bf16 = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::atol(argv[i + 1]);
    if (k == "--width") c.width = v;
    else if (k == "--layers") c.layers = v;
    else if (k == "--heads") c.heads = v;
    else if (k == "--kv-heads") c.kv_heads = v;
    else if (k == "--head-dim") c.head_dim = v;
    else if (k == "--ffn") c.ffn = v;
    else if (k == "--window") c.window = v;
    else if (k == "--vocab") c.vocab_size = v;
    else if (k == "--batch") batch = v;
    else if (k == "--sequence") sequence = v;
    else if (k == "--steps") steps = v;
    else if (k == "--threads") threads = v;
    else if (k == "--bf16") bf16 = v;
    else {
      std::fprintf(stderr, "bench_train_step: unknown option %s\n", argv[i]);
      return 1;
    }
  }
  // As lmzip train runs: freed blocks kept for reuse, both thread pools sized.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  at::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(1);
  lmzip::trainer::QatModel model(c);
  const auto tokens = torch::randint(0, c.vocab_size + 1, {batch, sequence}, torch::kInt64);
  const auto targets = torch::randint(0, c.vocab_size, {batch * sequence}, torch::kInt64);
  model->calibrate(tokens);
  if (bf16 && !lmzip::trainer::bf16_products_available()) {
    std::fprintf(stderr, "bench_train_step: bf16 products are not available here\n");
    return 1;
  }
  model->bf16_products = bf16 != 0;
  auto step = [&] {
    const auto logits = model->forward(tokens);
    const auto loss = torch::nn::functional::cross_entropy(logits.view({-1, std::int64_t{c.vocab_size}}), targets);
    model->zero_grad();
    loss.backward();
  };
  step();  // warm-up: allocations, thread pools
  const auto start = std::chrono::steady_clock::now();
  for (long s = 0; s < steps; ++s) step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / steps;
  std::printf("%.3f s a step, %.0f symbols/s (forward and backward, %ld x %ld symbols, %ld threads, %s products)\n",
              seconds, double(batch * sequence) / seconds, batch, sequence, threads, bf16 ? "bf16" : "float32");
  return 0;
}

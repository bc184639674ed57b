// From the trained float network to the integer network of docs/model-format.md.
#pragma once
#include "model/model_file.h"
#include "train/qat_model.h"

namespace lmzip {
namespace trainer {

// The residual stream's fixed point: r = R * 2^bits. Picks the most
// fractional bits that keep the largest |R| seen (residual_absmax) below 2^22,
// a quarter of the clamp at 2^24, as headroom for unseen text.
int residual_bits_for(double residual_absmax);

// Fills config, embedding, layers, final_norm and output of a ModelFile
// (name, description, tokenizer, pieces and self-test are the caller's).
ModelFile export_network(QatModel& model, int residual_bits);

}  // namespace trainer
}  // namespace lmzip

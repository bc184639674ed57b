// From the trained float network to the integer network of docs/model-format.md,
// and back (to train on from a model file).
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

// Sets the weights and activation scales of `model` (on the CPU, of file's
// shape) to a float network that exports back to file's integers: the
// same int8 weights, gains and, to float precision, multipliers. What the
// integers leave free (the residual's scale, which the norms cancel, and
// how a product of two scales splits) is chosen so that gains average 1,
// the largest embedding value is at most 1, and the two matrices of each
// product have rows of the same mean scale. Returns the residual_bits at
// which export_network gives file's multipliers back.
int import_network(const ModelFile& file, QatModel& model);

}  // namespace trainer
}  // namespace lmzip

// The integer network of docs/model-format.md on a CUDA GPU (docs/gpu.md).
// Same model, same Predictor interface, same frequency tables bit for bit as
// make_cpu_predictor. Every build has these functions: a build without
// LMZIP_CUDA reports CUDA unavailable, and make_cuda_predictor throws there.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "model/model_file.h"
#include "model/predictor.h"

namespace lmzip {

// True when this build has the CUDA path and a CUDA device can be used.
bool cuda_available();

// One line for messages: "CUDA: <device name>" or why CUDA is not available.
std::string cuda_description();

// The GPU predictor: weights and int8 KV cache in device memory, GEMMs in
// libtorch (float32 over integer values, TF32 off, exact), integer glue in
// fused CUDA kernels. Runs the model's self-test on the device first and
// throws std::runtime_error if it fails, or if CUDA is not available.
// The model must outlive the predictor. ranges_of_many() moves up to
// `ranges_per_row` ranges a row in one transfer, more a column at a time.
std::unique_ptr<Predictor> make_cuda_predictor(const ModelFile& model, std::uint32_t max_streams,
                                               std::size_t ranges_per_row = 1);

}  // namespace lmzip

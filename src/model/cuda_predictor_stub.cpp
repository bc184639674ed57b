// The CUDA predictor's entry points in a build without LMZIP_CUDA (the
// default: Debian's libtorch has no CUDA). CMake compiles this file or
// cuda_predictor.cpp, never both (cmake/cuda.cmake).
#include <stdexcept>

#include "model/cuda_predictor.h"

namespace lmzip {

bool cuda_available() { return false; }

std::string cuda_description() {
  return "CUDA: not built in (configure with -DLMZIP_CUDA=ON against a CUDA-enabled libtorch, see docs/gpu.md)";
}

std::unique_ptr<Predictor> make_cuda_predictor(const ModelFile&, std::uint32_t, std::size_t) {
  throw std::runtime_error(
      "this lmzip was built without CUDA support; rebuild with scripts/build-cuda.sh (docs/gpu.md) or use --device cpu");
}

}  // namespace lmzip

// Which device computes a model's predictions, decided in one place: the
// device asked for, what this build and machine have, and what the work
// needs (PredictorNeeds). The tables are the same on every device, so the
// choice changes speed, never bytes.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "model/model_file.h"
#include "model/predictor.h"

namespace lmzip {

enum class Device { Cpu, Cuda };

class PredictorFactory {
 public:
  // device: "auto" (CUDA when built in and present), "cpu" or "cuda";
  // Error(Usage) for another word, or for "cuda" where CUDA cannot be used.
  explicit PredictorFactory(const std::string& device);

  // The device that runs work with these needs: the GPU when asked for (or
  // auto and present) and it has every capability the work needs; else the
  // CPU, with a notice when the GPU was asked for by name.
  Device device_for(const PredictorNeeds& needs);
  // A predictor of `model` on device_for(needs) for up to `streams` rows,
  // split between `groups` parts on threads of their own; its device in
  // *device. The model's self-test runs first (std::runtime_error if it
  // fails). Under "auto", a GPU that fails to start leaves the work, from
  // then on, to the CPU. `model` must outlive the predictor.
  std::unique_ptr<Predictor> make(const ModelFile& model, const PredictorNeeds& needs, std::size_t groups,
                                  std::size_t streams, Device* device);

  // The host memory make(model, needs, groups, streams) takes on `device`,
  // in bytes (a GPU's own memory not counted).
  static std::size_t bytes(const ModelFile& model, Device device, std::size_t groups, std::size_t streams);

  // Messages for the user, each given once: requests that could not be honoured.
  std::vector<std::string> take_notices();
  // "CPU", or "CUDA: " and the GPU's name.
  static std::string describe(Device device);

 private:
  void notice(const std::string& text);
  bool cuda_asked_ = false;   // --device cuda
  bool cuda_usable_ = false;  // asked, or auto with a device present, and not failed
  std::vector<std::string> notices_, given_;
};

}  // namespace lmzip

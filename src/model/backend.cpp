#include "model/backend.h"

#include <algorithm>
#include <stdexcept>

#include "lmzip/lmzip.h"
#include "model/cuda_predictor.h"
#include "model/network.h"
#include "model/parallel_predictor.h"

namespace lmzip {

PredictorFactory::PredictorFactory(const std::string& device) {
  if (device == "cpu") return;
  if (device == "cuda") {
    if (!cuda_available()) throw Error(Error::Kind::Usage, "--device cuda: " + cuda_description());
    cuda_asked_ = cuda_usable_ = true;
    return;
  }
  if (device == "auto" || device.empty()) {
    cuda_usable_ = cuda_available();
    return;
  }
  throw Error(Error::Kind::Usage, "device must be auto, cpu or cuda, not '" + device + "'");
}

Device PredictorFactory::device_for(const PredictorNeeds& needs) {
  if (!cuda_usable_) return Device::Cpu;
  // The CUDA predictor has no output adaptation kernels.
  if (needs.adapts_output) {
    if (cuda_asked_)
      notice("--device cuda: output adaptation (levels 2 to 9) has no CUDA kernels; those frames ran on the CPU");
    return Device::Cpu;
  }
  return Device::Cuda;
}

std::unique_ptr<Predictor> PredictorFactory::make(const ModelFile& model, const PredictorNeeds& needs,
                                                  std::size_t groups, std::size_t streams, Device* device) {
  *device = device_for(needs);
  groups = std::max<std::size_t>(groups, 1);
  const auto part_streams = static_cast<std::uint32_t>((streams + groups - 1) / groups);
  std::vector<std::unique_ptr<Predictor>> parts;
  for (std::size_t g = 0; g < groups; ++g) {
    if (*device == Device::Cuda) {
      try {
        parts.push_back(make_cuda_predictor(model, part_streams, needs.ranges_per_row));
      } catch (const std::exception&) {
        if (cuda_asked_) throw;
        cuda_usable_ = false;  // auto: the CPU computes the same tables
        return make(model, needs, groups, streams, device);
      }
    } else {
      parts.push_back(make_cpu_predictor(model, part_streams));
    }
  }
  return make_parallel_predictor(std::move(parts));
}

std::size_t PredictorFactory::bytes(const ModelFile& model, Device device, std::size_t groups, std::size_t streams) {
  groups = std::max<std::size_t>(groups, 1);
  const auto part_streams = static_cast<std::uint32_t>((streams + groups - 1) / groups);
  // A GPU part keeps weights and caches on the device; on the host, its rows'
  // tables and ranges.
  if (device == Device::Cuda) return groups * std::size_t{part_streams} * model.config.vocab_size * 8;
  return groups * cpu_predictor_bytes(model, part_streams);
}

std::vector<std::string> PredictorFactory::take_notices() {
  std::vector<std::string> out;
  out.swap(notices_);
  return out;
}

std::string PredictorFactory::describe(Device device) {
  return device == Device::Cuda ? cuda_description() : "CPU";
}

void PredictorFactory::notice(const std::string& text) {
  if (std::find(given_.begin(), given_.end(), text) != given_.end()) return;
  given_.push_back(text);
  notices_.push_back(text);
}

}  // namespace lmzip

#include "model/derive_window.h"

#include "model/model_file.h"

namespace lmzip {

std::vector<std::uint8_t> derive_window(const std::string& model_path, std::uint32_t window, const std::string& name) {
  ModelFile model = ModelFile::load(model_path);
  const std::uint32_t trained = model.config.window;
  model.config.window = window;
  if (!name.empty()) model.name = name;
  model.description +=
      " Attention window " + std::to_string(trained) + " cut to " + std::to_string(window) + " by lmzip derive.";
  model.validate();
  fill_selftest(model);
  return model.serialize();
}

}  // namespace lmzip

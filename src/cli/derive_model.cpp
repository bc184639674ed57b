#include "cli/derive_model.h"

#include <filesystem>
#include <stdexcept>

#include "model/model_file.h"

namespace lmzip::cli {

void derive_model(const DeriveOptions& options) {
  std::error_code ec;
  if (std::filesystem::exists(options.output, ec))
    throw std::runtime_error(options.output + " exists; remove it or name another output");
  ModelFile model = ModelFile::load(options.input);
  const std::uint32_t trained = model.config.window;
  model.config.window = options.window;
  if (!options.name.empty()) model.name = options.name;
  model.description += " Attention window " + std::to_string(trained) + " cut to " + std::to_string(options.window) +
                       " by lmzip derive.";
  model.validate();
  fill_selftest(model);
  model.save(options.output);
}

}  // namespace lmzip::cli

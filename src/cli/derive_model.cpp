#include "cli/derive_model.h"

#include <ostream>
#include <stdexcept>

#include "cli/file_ops.h"
#include "model/model_file.h"

namespace lmzip::cli {

void derive_model(const DeriveOptions& options) {
  if (path_exists(options.output))
    throw std::runtime_error(options.output + " exists; remove it or name another output");
  ModelFile model = ModelFile::load(options.input);
  const std::uint32_t trained = model.config.window;
  model.config.window = options.window;
  if (!options.name.empty()) model.name = options.name;
  model.description += " Attention window " + std::to_string(trained) + " cut to " + std::to_string(options.window) +
                       " by lmzip derive.";
  model.validate();
  fill_selftest(model);
  // Published without replacing: a file made at this path meanwhile stays.
  const std::vector<std::uint8_t> bytes = model.serialize();
  AtomicOutputFile file;
  std::string error = file.create(options.output);
  if (error.empty()) {
    FdWriteBuffer buffer(file.fd());
    std::ostream(&buffer).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!buffer.flush_all()) error = errno_text(buffer.error());
  }
  if (error.empty()) error = file.commit(nullptr, false);
  if (!error.empty()) throw std::runtime_error("cannot write " + options.output + ": " + error);
}

}  // namespace lmzip::cli

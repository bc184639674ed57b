#include "cli/derive_model.h"

#include <ostream>
#include <stdexcept>
#include <vector>

#include "cli/file_ops.h"
#include "model/derive_window.h"

namespace lmzip::cli {

void derive_model(const DeriveOptions& options) {
  if (path_exists(options.output))
    throw std::runtime_error(options.output + " exists; remove it or name another output");
  const std::vector<std::uint8_t> bytes = derive_window(options.input, options.window, options.name);
  // Published without replacing: a file made at this path meanwhile stays.
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

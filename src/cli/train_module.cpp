#include "cli/train_module.h"

#include <dlfcn.h>

#include <cstdlib>

#include <stdexcept>
#include <string>
#include <vector>

#include "cli/file_ops.h"
#include "train/plugin.h"

namespace lmzip::cli {

#ifdef LMZIP_NO_TRAIN_MODULE
void run_train_module(const TrainOptions&) {
  throw std::runtime_error(
      "this lmzip was built without libtorch (LMZIP_TORCH=OFF): `lmzip train` is not available; "
      "rebuild with -DLMZIP_TORCH=ON (the default, needs libtorch) to train models");
}
#else
void run_train_module(const TrainOptions& options) {
  const std::string program = program_path();
  const std::size_t slash = program.rfind('/');
  if (slash == std::string::npos) throw std::runtime_error("cannot find the lmzip program's folder for " + std::string(kTrainModuleName));
  const std::string bin = program.substr(0, slash);
  const std::vector<std::string> candidates{bin + "/" + kTrainModuleName, bin + "/../lib/lmzip/" + kTrainModuleName};
  std::string tried;
  for (const std::string& path : candidates) {
    if (!path_exists(path)) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    // libgomp and OpenBLAS read how their idle threads wait when libtorch
    // loads them. By default both spin, against each other on the same
    // cores: on 2 cores, sleeping (OpenBLAS after 2^4 cycles) trained the
    // 192x3 model at 4,000-4,600 symbols/s against 3,450. Settings the user
    // made are kept.
    setenv("OMP_WAIT_POLICY", "passive", 0);
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) throw std::runtime_error("cannot load " + path + ": " + dlerror());
    const auto entry = reinterpret_cast<LmzipTrainEntry>(dlsym(module, "lmzip_train_entry"));
    if (entry == nullptr) throw std::runtime_error(path + " has no lmzip_train_entry: rebuild lmzip");
    char error[4096] = {};
    if (entry(&options, error, sizeof error) != 0) throw std::runtime_error(error);
    return;  // the module stays loaded: libtorch's threads may outlive the call
  }
  throw std::runtime_error("training needs " + std::string(kTrainModuleName) +
                           ", built with lmzip; not found (looked for " + tried + ")");
}
#endif

}  // namespace lmzip::cli

// The trainer as a module the CLI loads only for `lmzip train`: libtorch is
// large and slow to load (about a second), and compressing and decompressing
// do not use it.
#include <cstdio>
#include <exception>

#include "train/plugin.h"
#include "train/trainer.h"

extern "C" int lmzip_train_entry(const lmzip::TrainOptions* options, char* error, std::size_t error_size) {
  try {
    lmzip::train(*options);
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(error, error_size, "%s", e.what());
  } catch (...) {
    std::snprintf(error, error_size, "unknown error");
  }
  return 1;
}

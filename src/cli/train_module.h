// `lmzip train` runs the trainer from liblmzip_train.so (src/train/plugin.h),
// loaded on demand so that the codec never loads libtorch.
#pragma once
#include "train/trainer.h"

namespace lmzip::cli {

// Loads the module from the program's folder (or ../lib/lmzip beside it) and
// trains. Throws std::runtime_error naming the folders searched if it is
// missing (or saying so at once in a build without libtorch, where the
// module is not built), or with the trainer's message if training fails.
void run_train_module(const TrainOptions& options);

}  // namespace lmzip::cli

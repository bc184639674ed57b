// The entry point of the training module (liblmzip_train.so), which the CLI
// loads with dlopen for `lmzip train` only.
#pragma once
#include <cstddef>

#include "train/trainer.h"

// Trains as lmzip::train(*options). Returns 0, or 1 with the reason in error
// (truncated to error_size bytes, NUL-terminated).
extern "C" int lmzip_train_entry(const lmzip::TrainOptions* options, char* error, std::size_t error_size);
using LmzipTrainEntry = int (*)(const lmzip::TrainOptions*, char*, std::size_t);
constexpr const char* kTrainModuleName = "liblmzip_train.so";

// Finding model files: by level for compression, by id for decompression.
#pragma once
#include <string>
#include <vector>

#include "hash/sha256.h"
#include "lmzip/lmzip.h"

namespace lmzip {

// File name of the model for a level: 1-3 "fast.lmzm", 4-6 "default.lmzm",
// 7-9 "max.lmzm". A level whose model is not installed falls back to
// "default.lmzm".
std::string model_file_name_for_level(int level);

// The path compress() should use. Throws Error(ModelMissing) naming the
// directories searched.
std::string find_model_for_level(const ModelSearch& search, int level);

// The path of a model file whose SHA-256 is id, searching explicit_path first,
// then every *.lmzm in the directories. Throws Error(ModelMissing) with the id
// and the directories searched.
std::string find_model_by_id(const ModelSearch& search, const Sha256Digest& id);

// SHA-256 of a file's bytes; throws Error(Io).
Sha256Digest hash_file(const std::string& path);

}  // namespace lmzip

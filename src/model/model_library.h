// Finding model files: by name for compression, by id for decompression.
#pragma once
#include <string>
#include <vector>

#include "hash/sha256.h"
#include "lmzip/lmzip.h"

namespace lmzip {

// The path of the model compress() uses: search.explicit_path if set, else
// the first file called `name`, else `fallback` (if not empty), in the
// search directories. Throws Error(ModelMissing) naming `what` it was for
// ("level 5") and the directories searched.
std::string find_model_file(const ModelSearch& search, const std::string& name, const std::string& fallback,
                            const std::string& what);

// The model file's path, name and id (hashes are cached per file).
ModelInfo model_info(const std::string& path);

// The path of a model file whose SHA-256 is id, searching explicit_path first,
// then every *.lmzm in the directories. Throws Error(ModelMissing) with the id
// and the directories searched.
std::string find_model_by_id(const ModelSearch& search, const Sha256Digest& id);

// SHA-256 of a file's bytes; throws Error(Io).
Sha256Digest hash_file(const std::string& path);

}  // namespace lmzip

// Finding model files: by name when compressing, by content hash when
// decompressing (the stream names its model only by the SHA-256 of the file).
#include "model/model_library.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

namespace lmzip {
namespace {

namespace fs = std::filesystem;

bool is_regular_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "no directories" : out;
}

// Hashing a large model takes a while; decompressing many streams (or
// resolving a level then its id) would hash the same files again.
struct CachedHash {
  std::uintmax_t size;
  std::int64_t mtime_ns;
  Sha256Digest digest;
};

bool file_identity(const std::string& path, std::uintmax_t* size, std::int64_t* mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *size = static_cast<std::uintmax_t>(st.st_size);
  *mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

Sha256Digest cached_hash(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, CachedHash> cache;
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
  const bool known = file_identity(path, &size, &mtime_ns);
  if (known) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(path);
    if (it != cache.end() && it->second.size == size && it->second.mtime_ns == mtime_ns) return it->second.digest;
  }
  const Sha256Digest digest = hash_file(path);  // outside the lock: it is slow
  if (known) {
    std::lock_guard<std::mutex> lock(mutex);
    cache[path] = CachedHash{size, mtime_ns, digest};
  }
  return digest;
}

// Every *.lmzm in dir, sorted so that the search order does not depend on the
// file system. A missing or unreadable directory has none.
std::vector<std::string> model_files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".lmzm" && is_regular_file(p.string())) files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The header up to the name (docs/model-format.md): magic, version, nine u32
// hyperparameters, then the name as u32 length + bytes.
std::string read_model_name(const std::string& path) {
  constexpr std::size_t kNameOffset = 44;
  constexpr std::size_t kMaxName = 255;
  std::uint8_t header[kNameOffset + 4 + kMaxName];
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(Error::Kind::Io, "cannot open model " + path + ": " + std::strerror(errno));
  std::size_t got = 0;
  while (got < sizeof header) {
    const ssize_t n = ::read(fd, header + got, sizeof header - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(Error::Kind::Io, "cannot read model " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  auto u32_at = [&](std::size_t offset) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{header[offset + i]} << (8 * i);
    return v;
  };
  if (got < kNameOffset + 4 || std::memcmp(header, "LMZM", 4) != 0 || u32_at(4) != 1) {
    throw Error(Error::Kind::ModelInvalid, "model " + path + " is not an lmzip model file (version 1)");
  }
  const std::uint32_t length = u32_at(kNameOffset);
  if (length > kMaxName || got < kNameOffset + 4 + length) {
    throw Error(Error::Kind::ModelInvalid, "model " + path + " has a malformed name field");
  }
  return std::string(reinterpret_cast<const char*>(header + kNameOffset + 4), length);
}

}  // namespace

std::vector<std::string> ModelSearch::directories() const {
  std::vector<std::string> dirs;
  auto add = [&](const std::string& dir) {
    if (!dir.empty() && std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  };
  if (const char* env = std::getenv("LMZIP_MODEL_PATH")) {
    const std::string list = env;
    std::size_t start = 0;
    while (start <= list.size()) {
      const std::size_t colon = std::min(list.find(':', start), list.size());
      add(list.substr(start, colon - start));  // empty entries are skipped by add
      start = colon + 1;
    }
  }
  // A program path without a slash was not resolved: its directory is unknown.
  const std::size_t slash = program_path.rfind('/');
  if (slash != std::string::npos) {
    const std::string bin = program_path.substr(0, slash);  // "" for "/lmzip"
    add(bin + "/models");
    add(bin + "/../share/lmzip/models");
  }
#ifdef LMZIP_SOURCE_MODELS
  add(LMZIP_SOURCE_MODELS);
#endif
  return dirs;
}

std::string find_model_file(const ModelSearch& search, const std::string& name, const std::string& fallback,
                            const std::string& what) {
  if (!search.explicit_path.empty()) {
    if (is_regular_file(search.explicit_path)) return search.explicit_path;
    throw Error(Error::Kind::ModelMissing, "model file " + search.explicit_path + " not found");
  }
  const std::vector<std::string> dirs = search.directories();
  std::vector<std::string> names{name};
  if (!fallback.empty() && fallback != name) names.push_back(fallback);
  for (const auto& n : names) {
    for (const auto& dir : dirs) {
      const std::string path = dir + "/" + n;
      if (is_regular_file(path)) return path;
    }
  }
  std::string looked_for = names[0] + (names.size() > 1 ? " or " + names[1] : "");
  throw Error(Error::Kind::ModelMissing, "no model for " + what + ": " + looked_for + " not found (searched: " +
                                             join(dirs) + "); pass one with -m FILE or set LMZIP_MODEL_PATH");
}

std::string find_model_by_id(const ModelSearch& search, const Sha256Digest& id) {
  std::vector<std::string> searched;
  auto matches = [&](const std::string& path) {
    try {
      return cached_hash(path) == id;
    } catch (const Error&) {
      return false;  // unreadable: not the model we are looking for
    }
  };
  if (!search.explicit_path.empty()) {
    if (matches(search.explicit_path)) return search.explicit_path;
    searched.push_back(search.explicit_path);
  }
  for (const auto& dir : search.directories()) {
    for (const auto& path : model_files_in(dir)) {
      if (matches(path)) return path;
    }
    searched.push_back(dir);
  }
  throw Error(Error::Kind::ModelMissing, "model " + to_hex(id).substr(0, 16) + " not found (searched: " +
                                             join(searched) + "); pass it with -m FILE or set LMZIP_MODEL_PATH");
}

ModelInfo find_model(const ModelSearch& models, const std::string& model_id) {
  Sha256Digest id;
  if (!digest_from_hex(model_id, &id))
    throw Error(Error::Kind::Usage, "model id '" + model_id + "' is not 64 hex digits");
  return model_info(find_model_by_id(models, id));
}

Sha256Digest hash_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(Error::Kind::Io, "cannot open " + path + ": " + std::strerror(errno));
  Sha256 hasher;
  std::vector<std::uint8_t> buffer(1 << 16);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(Error::Kind::Io, "cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    hasher.update(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return hasher.finish();
}

ModelInfo model_info(const std::string& path) {
  ModelInfo info;
  info.path = path;
  info.name = read_model_name(path);
  info.id = to_hex(cached_hash(path));
  return info;
}

}  // namespace lmzip

// SPDX-License-Identifier: MIT
// File handling for the lmzip program: streams over file descriptors, input
// files checked with fstat, and an output file that only appears under its
// final name once it is complete (temp file, fsync, rename). A signal handler
// removes an unfinished temp file, so Ctrl-C never leaves a partial output.
#pragma once
#include <sys/stat.h>  // struct stat

#include <cstdint>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

namespace lmzip::cli {

// Reads a file descriptor it does not own. A read error ends the stream and is
// kept in error() (an errno value), so the caller can say why the stream ended.
class FdReadBuffer : public std::streambuf {
 public:
  explicit FdReadBuffer(int fd);
  int error() const { return error_; }

 protected:
  int_type underflow() override;

 private:
  int fd_;
  int error_ = 0;
  std::vector<char> buffer_;
};

// Writes to a file descriptor it does not own. A write error makes every later
// write fail and is kept in error(); call flush_all() before trusting the data.
class FdWriteBuffer : public std::streambuf {
 public:
  explicit FdWriteBuffer(int fd);
  int error() const { return error_; }
  // Writes what is buffered; false (with error() set) if that failed.
  bool flush_all();

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* data, std::streamsize size) override;
  int sync() override;

 private:
  bool write_fully(const char* data, std::size_t size);
  int fd_;
  int error_ = 0;
  std::vector<char> buffer_;
};

// Accepts and drops everything: the sink for -t.
class DiscardBuffer : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize size) override { return size; }
};

// An opened input: a named file, or stdin when path is "-".
class InputFile {
 public:
  InputFile() = default;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  // Opens path (or takes stdin for "-"). Returns an empty string on success,
  // else the reason, worded for "lmzip: FILE: reason". Regular files only,
  // unless allow_special (then FIFOs and devices too; never directories).
  // A symbolic link is refused unless follow_symlinks.
  std::string open(const std::string& path, bool allow_special, bool follow_symlinks);

  int fd() const { return fd_; }
  bool is_stdin() const { return is_stdin_; }
  bool is_regular() const { return S_ISREG(stat_.st_mode); }
  const struct stat& status() const { return stat_; }

 private:
  int fd_ = -1;
  bool is_stdin_ = false;
  struct stat stat_ {};
};

// A file written under a hidden temporary name in the target's directory and
// renamed to the target by commit(). Until then a signal or the destructor
// removes it, so the target is either untouched or complete.
class AtomicOutputFile {
 public:
  AtomicOutputFile() = default;
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;
  ~AtomicOutputFile();  // removes the temp file unless committed

  // Creates the temp file (mode 0600). Returns "" or the reason.
  std::string create(const std::string& target);
  int fd() const { return fd_; }

  // Gives the file the input's owner (when we may), mode and times; a null
  // source leaves the mode as for a new file (0666 minus the umask).
  // Then fsyncs and moves it to the target, replacing an existing target only
  // if overwrite. Returns "" or the reason; on failure the temp file is gone.
  std::string commit(const struct stat* source, bool overwrite);

  // Removes the temp file now (idempotent).
  void discard();

 private:
  std::string target_;
  std::string temp_;
  int fd_ = -1;
};

// Removes a pending temp file on SIGINT, SIGTERM and SIGHUP, then dies by the
// same signal so the shell sees 128+n. Signals the parent ignored stay ignored.
// Also ignores SIGXFSZ, so a write over the file-size limit fails with EFBIG.
void install_cleanup_on_signals();

// Why a regular file is left alone unless -f, as gzip and xz do: a set-user-ID,
// set-group-ID or sticky bit, or other hard links (an output beside one name
// is not beside the others); "" if none, else worded for "lmzip: FILE: reason".
std::string needs_force(const struct stat& status);

// "" if path is a regular file this process may read, else the reason.
std::string readable_file_problem(const std::string& path);

// True if path names an existing directory entry (any type, links not followed).
bool path_exists(const std::string& path);
// True if path is a directory (a link to one is not).
bool is_directory(const std::string& path);

// What is below a folder, for -r: every regular file, as FOLDER/.../NAME in
// name order. Links are not followed, and links, FIFOs and devices are left
// out (a FIFO could block the run). Folders that could not be read are listed
// with the reason.
struct FolderListing {
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> unreadable;
};
FolderListing list_folder(const std::string& folder);
// True if both paths name the same file (device and inode).
bool same_file(const std::string& a, const struct stat& b);
// Removes a file; returns "" or the reason.
std::string remove_file(const std::string& path);

// The absolute path of this program, from /proc/self/exe ("" if unknown).
std::string program_path();

// The cores this process may run on (its CPU affinity, as nproc counts them;
// taskset and cpusets narrow it), at least 1.
int usable_cores();

std::string errno_text(int error);

}  // namespace lmzip::cli

// SPDX-License-Identifier: MIT
// POSIX file handling behind the lmzip program: descriptor-backed streams,
// input checks, and the temp-file-then-rename output that DESIGN.md's "never
// lose a user's file" asks for. Only async-signal-safe calls run in the
// signal handler: unlink, sigaction, raise.
#include "cli/file_ops.h"

#include <dirent.h>    // opendir, readdir
#include <fcntl.h>     // open, O_* flags
#include <sched.h>     // sched_getaffinity, CPU_COUNT
#include <limits.h>    // PATH_MAX
#include <signal.h>    // sigaction, pthread_sigmask
#include <sys/stat.h>  // fstat, fchmod, futimens
#include <unistd.h>    // read, write, fsync, link, unlink

#include <algorithm>  // max, sort
#include <atomic>   // atomic_signal_fence
#include <cerrno>
#include <cstdlib>  // mkostemp
#include <cstring>  // strerror, memcpy
#include <thread>   // hardware_concurrency

namespace lmzip::cli {

namespace {

constexpr std::size_t kStreamBufferBytes = 1 << 16;

// The one temp file that may be pending (files are processed one at a time).
// Written only with the cleanup signals blocked, read by the handler.
char g_pending_temp[PATH_MAX + 1];
volatile sig_atomic_t g_has_pending_temp = 0;

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Blocks the cleanup signals for its lifetime, so the handler never sees a
// temp file that exists but is not yet registered, or a half-written name.
class CleanupSignalsBlocked {
 public:
  CleanupSignalsBlocked() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kCleanupSignals) sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, &previous_);
  }
  ~CleanupSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

 private:
  sigset_t previous_;
};

void RemovePendingTempAndDie(int sig) {
  if (g_has_pending_temp) unlink(g_pending_temp);
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(sig, &action, nullptr);
  raise(sig);  // delivered when the handler returns: the process dies by sig
}

void RegisterPendingTemp(const std::string& path) {
  std::size_t n = path.size() < PATH_MAX ? path.size() : PATH_MAX;
  std::memcpy(g_pending_temp, path.data(), n);
  g_pending_temp[n] = '\0';
  // The name is complete before the handler can see the flag, even if a
  // library thread (where these signals are not blocked) takes the signal.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g_has_pending_temp = 1;
}

std::string DirectoryOf(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseNameOf(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Makes a rename durable; failure only costs durability, so it is ignored.
void SyncDirectory(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  ::close(fd);
}

}  // namespace

std::string errno_text(int error) { return std::strerror(error); }

// ---- streams ---------------------------------------------------------------

FdReadBuffer::FdReadBuffer(int fd) : fd_(fd), buffer_(kStreamBufferBytes) {
  setg(buffer_.data(), buffer_.data(), buffer_.data());
}

FdReadBuffer::int_type FdReadBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (error_ != 0) return traits_type::eof();
  ssize_t got;
  do {
    got = ::read(fd_, buffer_.data(), buffer_.size());
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    error_ = errno;
    return traits_type::eof();
  }
  if (got == 0) return traits_type::eof();
  setg(buffer_.data(), buffer_.data(), buffer_.data() + got);
  return traits_type::to_int_type(*gptr());
}

FdWriteBuffer::FdWriteBuffer(int fd) : fd_(fd), buffer_(kStreamBufferBytes) {
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

bool FdWriteBuffer::write_fully(const char* data, std::size_t size) {
  while (size > 0 && error_ == 0) {
    ssize_t put = ::write(fd_, data, size);
    if (put < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      break;
    }
    data += put;
    size -= static_cast<std::size_t>(put);
  }
  return error_ == 0;
}

bool FdWriteBuffer::flush_all() {
  std::size_t pending = static_cast<std::size_t>(pptr() - pbase());
  bool ok = write_fully(pbase(), pending);
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  return ok;
}

FdWriteBuffer::int_type FdWriteBuffer::overflow(int_type c) {
  if (!flush_all()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

std::streamsize FdWriteBuffer::xsputn(const char* data, std::streamsize size) {
  if (error_ != 0) return 0;
  std::size_t n = static_cast<std::size_t>(size);
  if (n <= static_cast<std::size_t>(epptr() - pptr())) {
    std::memcpy(pptr(), data, n);
    pbump(static_cast<int>(n));
    return size;
  }
  // Larger than the room left: drain the buffer, then write straight through.
  if (!flush_all() || !write_fully(data, n)) return 0;
  return size;
}

int FdWriteBuffer::sync() { return flush_all() ? 0 : -1; }

// ---- input -----------------------------------------------------------------

InputFile::~InputFile() {
  if (fd_ >= 0 && !is_stdin_) ::close(fd_);
}

std::string InputFile::open(const std::string& path, bool allow_special, bool follow_symlinks) {
  if (path == "-") {
    is_stdin_ = true;
    fd_ = STDIN_FILENO;
    if (fstat(fd_, &stat_) != 0) return errno_text(errno);
    return "";
  }
  struct stat link_status {};
  if (lstat(path.c_str(), &link_status) != 0) return errno_text(errno);
  if (S_ISLNK(link_status.st_mode) && !follow_symlinks)
    return "is a symbolic link -- ignored (use -f to follow it)";
  if (S_ISDIR(link_status.st_mode)) return "is a directory -- ignored";
  // O_NONBLOCK: opening a FIFO with no writer must not hang before the checks.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) return errno_text(errno);
  if (fstat(fd_, &stat_) != 0) return errno_text(errno);
  if (S_ISDIR(stat_.st_mode)) return "is a directory -- ignored";
  if (!S_ISREG(stat_.st_mode) && !allow_special)
    return "is not a regular file -- ignored (use -f to read it anyway)";
  int flags = fcntl(fd_, F_GETFL);
  if (flags >= 0) fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  return "";
}

// ---- output ----------------------------------------------------------------

AtomicOutputFile::~AtomicOutputFile() { discard(); }

std::string AtomicOutputFile::create(const std::string& target) {
  target_ = target;
  // Leave room for the suffix within NAME_MAX (255) for very long names.
  std::string base = BaseNameOf(target).substr(0, 200);
  std::string pattern = DirectoryOf(target) + "/." + base + ".XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  CleanupSignalsBlocked blocked;
  fd_ = mkostemp(name.data(), O_CLOEXEC);  // created with mode 0600
  if (fd_ < 0) return errno_text(errno);
  temp_ = name.data();
  RegisterPendingTemp(temp_);
  return "";
}

void AtomicOutputFile::discard() {
  CleanupSignalsBlocked blocked;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_.empty()) {
    unlink(temp_.c_str());
    temp_.clear();
    g_has_pending_temp = 0;
  }
}

std::string AtomicOutputFile::commit(const struct stat* source, bool overwrite) {
  auto fail = [this](const std::string& reason) {
    discard();
    return reason;
  };
  if (source != nullptr) {
    // Owner first: chown clears set-user-ID bits, which fchmod then restores.
    if (geteuid() == 0 && fchown(fd_, source->st_uid, source->st_gid) != 0) {
      // Keeping root's ownership is safe; the mode below still applies.
    }
    if (fchmod(fd_, source->st_mode & 07777) != 0) return fail(errno_text(errno));
    const struct timespec times[2] = {source->st_atim, source->st_mtim};
    if (futimens(fd_, times) != 0) return fail(errno_text(errno));
  } else {
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd_, 0666 & ~mask) != 0) return fail(errno_text(errno));
  }
  if (fsync(fd_) != 0) return fail(errno_text(errno));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return fail(errno_text(errno));

  CleanupSignalsBlocked blocked;
  if (overwrite) {
    if (rename(temp_.c_str(), target_.c_str()) != 0) return fail(errno_text(errno));
  } else if (link(temp_.c_str(), target_.c_str()) == 0) {
    // link() never replaces, so an output that appeared meanwhile survives.
    unlink(temp_.c_str());
  } else if (errno == EEXIST) {
    return fail("already exists (use -f to overwrite)");
  } else {
    // File systems without hard links: check, then rename.
    if (path_exists(target_)) return fail("already exists (use -f to overwrite)");
    if (rename(temp_.c_str(), target_.c_str()) != 0) return fail(errno_text(errno));
  }
  temp_.clear();
  g_has_pending_temp = 0;
  SyncDirectory(DirectoryOf(target_));
  return "";
}

void install_cleanup_on_signals() {
  // A write past the file-size limit (ulimit -f) raises SIGXFSZ, whose default
  // action kills the process before any cleanup, leaving the temp file behind.
  // Ignored, the write fails with EFBIG instead and is reported like a full disk.
  signal(SIGXFSZ, SIG_IGN);
  for (int sig : kCleanupSignals) {
    struct sigaction previous {};
    if (sigaction(sig, nullptr, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = RemovePendingTempAndDie;
    sigemptyset(&action.sa_mask);
    for (int other : kCleanupSignals) sigaddset(&action.sa_mask, other);
    sigaction(sig, &action, nullptr);
  }
}

// ---- paths -----------------------------------------------------------------

bool path_exists(const std::string& path) {
  struct stat status {};
  return lstat(path.c_str(), &status) == 0;
}

bool is_directory(const std::string& path) {
  struct stat status {};
  return lstat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

namespace {

void ListFolderInto(const std::string& folder, FolderListing& listing) {
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) {
    listing.unreadable.emplace_back(folder, errno_text(errno));
    return;
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  if (errno != 0) listing.unreadable.emplace_back(folder, errno_text(errno));
  closedir(dir);
  std::sort(names.begin(), names.end());
  const std::string prefix = folder.back() == '/' ? folder : folder + "/";
  for (const auto& name : names) {
    const std::string path = prefix + name;
    struct stat status {};
    if (lstat(path.c_str(), &status) != 0) continue;  // gone meanwhile
    if (S_ISDIR(status.st_mode))
      ListFolderInto(path, listing);
    else if (S_ISREG(status.st_mode))
      listing.files.push_back(path);
  }
}

}  // namespace

FolderListing list_folder(const std::string& folder) {
  FolderListing listing;
  ListFolderInto(folder, listing);
  return listing;
}

std::string needs_force(const struct stat& status) {
  const char* why = "";
  if (status.st_mode & S_ISUID) why = "is set-user-ID";
  else if (status.st_mode & S_ISGID) why = "is set-group-ID";
  else if (status.st_mode & S_ISVTX) why = "has the sticky bit set";
  std::string reason = why;
  if (reason.empty() && status.st_nlink > 1) {
    const auto others = static_cast<unsigned long long>(status.st_nlink - 1);
    reason = "has " + std::to_string(others) + (others == 1 ? " other link" : " other links");
  }
  return reason.empty() ? "" : reason + " -- ignored (use -f to read it anyway)";
}

std::string readable_file_problem(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno_text(errno);
  struct stat status {};
  std::string problem;
  if (fstat(fd, &status) != 0) problem = errno_text(errno);
  else if (S_ISDIR(status.st_mode)) problem = "is a directory";
  else if (!S_ISREG(status.st_mode)) problem = "is not a regular file";
  ::close(fd);
  return problem;
}

bool same_file(const std::string& a, const struct stat& b) {
  struct stat status {};
  if (stat(a.c_str(), &status) != 0) return false;
  return status.st_dev == b.st_dev && status.st_ino == b.st_ino;
}

std::string remove_file(const std::string& path) {
  if (unlink(path.c_str()) != 0) return errno_text(errno);
  return "";
}

std::string program_path() {
  std::vector<char> buffer(PATH_MAX + 1);
  ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0) return "";
  return std::string(buffer.data(), static_cast<std::size_t>(n));
}

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace lmzip::cli

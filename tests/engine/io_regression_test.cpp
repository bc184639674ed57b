// Write failures reach the library's caller as lmzip::Error(Io), never as
// another exception. Found by tests/cli/faults.sh: compressing to a file over
// the size limit (ulimit -f) printed "internal error: lmzip container: write
// failed", because ContainerWriter's std::runtime_error escaped compress().
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <streambuf>
#include <string>

#include "../fuzz/fuzz_models.h"
#include "lmzip/lmzip.h"

namespace lmzip {
namespace {

// Accepts `room` bytes, then fails every write, as a full disk does.
class FullDisk : public std::streambuf {
 public:
  explicit FullDisk(std::size_t room) : room_(room) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    if (room_ == 0) return traits_type::eof();
    --room_;
    return c;
  }
  std::streamsize xsputn(const char*, std::streamsize size) override {
    const auto n = std::min<std::streamsize>(size, static_cast<std::streamsize>(room_));
    room_ -= static_cast<std::size_t>(n);
    return n;
  }

 private:
  std::size_t room_;
};

std::string pseudo_random(std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

TEST(IoRegression, CompressReportsAFailedWriteAsIoError) {
  const std::string dir = fuzz::write_models();
  CompressOptions options;
  options.models.explicit_path = dir + "/byte.lmzm";
  // Stored chunks (random bytes): the failing write is a frame's payload.
  for (std::size_t room : {0, 10, 100, 5000}) {
    SCOPED_TRACE(room);
    std::istringstream in(pseudo_random(200000));
    FullDisk disk(room);
    std::ostream out(&disk);
    try {
      compress(in, out, options);
      ADD_FAILURE() << "compress() succeeded on a full disk";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::Io) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an lmzip::Error: " << e.what();
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace lmzip

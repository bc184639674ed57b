// A fixed-size array of zeros from calloc: for large hash tables whose size
// a frame's declared symbol count sets. calloc maps zero pages that cost
// memory only once written, so a hostile entry that declares millions of
// symbols and decodes a few costs what it decodes, not what it declares.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>

namespace lmzip {

template <typename T>
class ZeroedArray {
  static_assert(std::is_trivial_v<T>, "calloc's zero bytes must be a valid T");

 public:
  ZeroedArray() = default;
  explicit ZeroedArray(std::size_t size) : data_(allocate(size)), size_(size) {}

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_.get()[i]; }
  const T& operator[](std::size_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  static T* allocate(std::size_t size) {
    if (size == 0) return nullptr;
    void* p = std::calloc(size, sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  std::unique_ptr<T, Free> data_;
  std::size_t size_ = 0;
};

}  // namespace lmzip

// Kept in its own translation unit so that the compiler does not pair these
// malloc/free calls with new/delete expressions elsewhere.
#include "allocation_tracker.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest{0};
}  // namespace

void* operator new(std::size_t size) {
  if (g_tracking && size > g_largest) g_largest = size;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace lmzip {

AllocationTracker::AllocationTracker() {
  g_largest = 0;
  g_tracking = true;
}
AllocationTracker::~AllocationTracker() { g_tracking = false; }
std::size_t AllocationTracker::largest() const { return g_largest; }

}  // namespace lmzip

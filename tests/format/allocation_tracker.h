// Records the largest single allocation (through operator new) while an
// AllocationTracker is alive, to show that a reader does not allocate what a
// hostile header declares. Test-only: it replaces the global operator new.
#pragma once
#include <cstddef>

namespace lmzip {

class AllocationTracker {
 public:
  AllocationTracker();
  ~AllocationTracker();
  std::size_t largest() const;
};

}  // namespace lmzip

// Work shared out over threads in contiguous runs of indices.
#pragma once
#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace lmzip {

// Splits indices 0..count-1 into `groups` contiguous runs and runs
// fn(group, first, last) for each, on threads of their own; the first
// exception a run throws is rethrown once all have ended.
template <class Fn>
void for_each_group(std::size_t count, std::size_t groups, Fn fn) {
  groups = std::max<std::size_t>(1, std::min(groups, count));
  if (groups == 1) {
    fn(0, 0, count);
    return;
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t first = count * g / groups, last = count * (g + 1) / groups;
    threads.emplace_back([&, g, first, last] {
      try {
        fn(g, first, last);
      } catch (...) {
        errors[g] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace lmzip

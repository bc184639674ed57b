#include "engine/batch_engine.h"

#include <algorithm>

namespace lmzip {

void run_lockstep(Predictor& predictor, const std::vector<std::uint32_t>& lengths, const SymbolStep& step) {
  struct Active {
    std::size_t chunk;
    std::uint32_t position;  // symbols of the chunk already produced
    std::uint32_t last;      // symbol to feed next (BOS first)
  };
  const std::uint32_t V = predictor.vocab_size();
  const std::uint32_t streams = predictor.max_streams();
  std::vector<Active> active;          // active[i] runs in slot slot_of[i]
  std::vector<std::uint32_t> slot_of;  // parallel to active
  std::vector<std::uint32_t> free_slots;
  for (std::uint32_t s = streams; s-- > 0;) free_slots.push_back(s);
  std::size_t next = 0;
  std::vector<std::uint32_t> slots, symbols, freqs;

  auto admit = [&] {
    while (!free_slots.empty() && next < lengths.size()) {
      if (lengths[next] == 0) {
        ++next;
        continue;
      }
      const std::uint32_t slot = free_slots.back();
      free_slots.pop_back();
      predictor.reset(slot);
      active.push_back({next++, 0, predictor.bos()});
      slot_of.push_back(slot);
    }
  };

  admit();
  while (!active.empty()) {
    const std::size_t n = active.size();
    slots.assign(slot_of.begin(), slot_of.end());
    symbols.resize(n);
    for (std::size_t i = 0; i < n; ++i) symbols[i] = active[i].last;
    freqs.resize(n * V);
    predictor.step(slots.data(), symbols.data(), n, freqs.data());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      Active a = active[i];
      a.last = step(a.chunk, a.position, freqs.data() + i * V);
      ++a.position;
      if (a.position < lengths[a.chunk]) {
        active[kept] = a;
        slot_of[kept] = slot_of[i];
        ++kept;
      } else {
        free_slots.push_back(slot_of[i]);
      }
    }
    active.resize(kept);
    slot_of.resize(kept);
    admit();
  }
}

}  // namespace lmzip

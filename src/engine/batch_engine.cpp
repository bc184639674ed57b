#include "engine/batch_engine.h"

namespace lmzip {

void run_lockstep(Predictor& predictor, const std::vector<std::uint32_t>& lengths, const BatchStep& step,
                  const std::function<void(std::uint32_t, std::uint32_t)>& admitted,
                  const std::vector<std::uint32_t>* first_inputs) {
  const std::uint32_t streams = predictor.max_streams();
  // Row i of a step: chunk chunks[i] in slot slots[i], feeding symbols[i] to
  // produce the symbol at positions[i].
  std::vector<std::uint32_t> chunks, slots, symbols, positions, next;
  std::vector<std::uint32_t> free_slots;
  for (std::uint32_t s = streams; s-- > 0;) free_slots.push_back(s);
  std::size_t waiting = 0;

  auto admit = [&] {
    while (!free_slots.empty() && waiting < lengths.size()) {
      if (lengths[waiting] == 0) {
        ++waiting;
        continue;
      }
      const std::uint32_t slot = free_slots.back();
      free_slots.pop_back();
      predictor.reset(slot);
      if (admitted) admitted(slot, static_cast<std::uint32_t>(waiting));
      symbols.push_back(first_inputs ? (*first_inputs)[waiting] : predictor.bos());
      chunks.push_back(static_cast<std::uint32_t>(waiting++));
      slots.push_back(slot);
      positions.push_back(0);
    }
  };

  admit();
  while (!chunks.empty()) {
    const std::size_t n = chunks.size();
    predictor.advance(slots.data(), symbols.data(), n);
    next.assign(n, 0);
    step(chunks.data(), positions.data(), n, next.data());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t position = positions[i] + 1;
      if (next[i] != kRetireChunk && position < lengths[chunks[i]]) {
        chunks[kept] = chunks[i];
        slots[kept] = slots[i];
        symbols[kept] = next[i];
        positions[kept] = position;
        ++kept;
      } else {
        free_slots.push_back(slots[i]);
      }
    }
    chunks.resize(kept);
    slots.resize(kept);
    symbols.resize(kept);
    positions.resize(kept);
    admit();
  }
}

}  // namespace lmzip

#include "model/parallel_predictor.h"

#include <immintrin.h>  // _mm_pause
#include <sched.h>        // sched_yield

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace lmzip {

namespace {

class ParallelPredictor : public Predictor {
 public:
  explicit ParallelPredictor(std::vector<std::unique_ptr<Predictor>> parts)
      : parts_(std::move(parts)), rows_(parts_.size()) {
    if (parts_.empty()) throw std::invalid_argument("parallel predictor without parts");
    max_streams_ = parts_[0]->max_streams() * static_cast<std::uint32_t>(parts_.size());
    for (const auto& p : parts_) {
      if (p->vocab_size() != parts_[0]->vocab_size() || p->max_streams() != parts_[0]->max_streams())
        throw std::invalid_argument("parallel predictor parts differ");
    }
    for (std::size_t k = 1; k < parts_.size(); ++k) workers_.emplace_back([this, k] { work(k); });
  }

  ~ParallelPredictor() override {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      generation_.store(generation_.load() + 1);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  std::uint32_t vocab_size() const override { return parts_[0]->vocab_size(); }
  std::uint32_t max_streams() const override { return max_streams_; }
  void reset(std::uint32_t slot) override { parts_[part(slot)]->reset(local(slot)); }
  bool saves_slots() const override {
    return std::all_of(parts_.begin(), parts_.end(), [](const auto& p) { return p->saves_slots(); });
  }
  std::vector<std::uint8_t> save_slot(std::uint32_t slot) const override {
    return parts_[part(slot)]->save_slot(local(slot));
  }
  void load_slot(std::uint32_t slot, const std::vector<std::uint8_t>& state) override {
    parts_[part(slot)]->load_slot(local(slot), state);
  }

  void step(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count,
            std::uint32_t* freqs) override {
    split(slots, symbols, count);
    const std::size_t V = vocab_size();
    std::vector<std::vector<std::uint32_t>> tables(parts_.size());
    run([&](std::size_t k) {
      Rows& r = rows_[k];
      tables[k].resize(r.index.size() * V);
      if (!r.index.empty()) parts_[k]->step(r.slots.data(), r.symbols.data(), r.index.size(), tables[k].data());
    });
    for (std::size_t k = 0; k < parts_.size(); ++k)
      for (std::size_t j = 0; j < rows_[k].index.size(); ++j)
        std::copy_n(tables[k].data() + j * V, V, freqs + rows_[k].index[j] * V);
  }

  void advance(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count) override {
    split(slots, symbols, count);
    run([&](std::size_t k) {
      Rows& r = rows_[k];
      if (!r.index.empty()) parts_[k]->advance(r.slots.data(), r.symbols.data(), r.index.size());
    });
  }

  void ranges_of(const std::uint32_t* symbols, SymbolRange* out) override {
    run([&](std::size_t k) {
      Rows& r = rows_[k];
      if (r.index.empty()) return;
      for (std::size_t j = 0; j < r.index.size(); ++j) r.symbols[j] = symbols[r.index[j]];
      r.ranges.resize(r.index.size());
      parts_[k]->ranges_of(r.symbols.data(), r.ranges.data());
      for (std::size_t j = 0; j < r.index.size(); ++j) out[r.index[j]] = r.ranges[j];
    });
  }

  void ranges_of_many(const std::uint32_t* symbols, std::size_t per_row, SymbolRange* out) override {
    run([&](std::size_t k) {
      Rows& r = rows_[k];
      if (r.index.empty()) return;
      r.symbols.resize(r.index.size() * per_row);
      for (std::size_t j = 0; j < r.index.size(); ++j)
        std::copy_n(symbols + r.index[j] * per_row, per_row, r.symbols.data() + j * per_row);
      r.ranges.resize(r.index.size() * per_row);
      parts_[k]->ranges_of_many(r.symbols.data(), per_row, r.ranges.data());
      for (std::size_t j = 0; j < r.index.size(); ++j)
        std::copy_n(r.ranges.data() + j * per_row, per_row, out + r.index[j] * per_row);
    });
  }

  void find(const std::uint64_t* targets, SymbolRange* out) override {
    run([&](std::size_t k) {
      Rows& r = rows_[k];
      if (r.index.empty()) return;
      r.targets.resize(r.index.size());
      for (std::size_t j = 0; j < r.index.size(); ++j) r.targets[j] = targets[r.index[j]];
      r.ranges.resize(r.index.size());
      parts_[k]->find(r.targets.data(), r.ranges.data());
      for (std::size_t j = 0; j < r.index.size(); ++j) out[r.index[j]] = r.ranges[j];
    });
  }

  void attach(OutputAdjustment* adaptation, std::uint32_t stride, std::uint32_t offset) override {
    const auto parts = static_cast<std::uint32_t>(parts_.size());
    for (std::uint32_t k = 0; k < parts; ++k) parts_[k]->attach(adaptation, stride * parts, offset + k * stride);
  }

  void learn(const std::uint32_t* symbols) override {
    run([&](std::size_t k) {
      Rows& r = rows_[k];
      if (r.index.empty()) return;
      for (std::size_t j = 0; j < r.index.size(); ++j) r.symbols[j] = symbols[r.index[j]];
      parts_[k]->learn(r.symbols.data());
    });
  }

  void for_row_ranges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) override {
    const std::size_t parts = parts_.size();
    run([&](std::size_t k) {
      const std::size_t first = n * k / parts, last = n * (k + 1) / parts;
      if (first < last) fn(first, last);
    });
  }

 private:
  // Part k's rows of the last step: their index in the batch, local slots, symbols.
  struct Rows {
    std::vector<std::size_t> index;
    std::vector<std::uint32_t> slots, symbols;
    std::vector<SymbolRange> ranges;
    std::vector<std::uint64_t> targets;
  };

  std::size_t part(std::uint32_t slot) const { return slot % parts_.size(); }
  std::uint32_t local(std::uint32_t slot) const { return slot / static_cast<std::uint32_t>(parts_.size()); }

  void split(const std::uint32_t* slots, const std::uint32_t* symbols, std::size_t count) {
    for (Rows& r : rows_) {
      r.index.clear();
      r.slots.clear();
      r.symbols.clear();
    }
    for (std::size_t i = 0; i < count; ++i) {
      Rows& r = rows_[part(slots[i])];
      r.index.push_back(i);
      r.slots.push_back(local(slots[i]));
      r.symbols.push_back(symbols[i]);
    }
    set_advanced_rows(count);
  }

  // Runs job(k) for every part, part 0 on the calling thread; rethrows the first error.
  void run(const std::function<void(std::size_t)>& job) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      pending_.store(workers_.size());
      errors_.assign(parts_.size(), nullptr);
      generation_.store(generation_.load() + 1);
    }
    wake_.notify_all();
    try {
      job(0);
    } catch (...) {
      errors_[0] = std::current_exception();
    }
    if (!spin_until([this] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_.load() == 0; });
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
    for (auto& e : errors_)
      if (e) std::rethrow_exception(e);
  }

  // A step hands work back and forth several times, microseconds to about
  // a millisecond apart: polling for that long spares a condition
  // variable's sleep and wake each time, which weighs most on small inputs,
  // whose steps are short. The polling yields the core after a few pauses:
  // with more threads than cores (two runs at once on two cores) spinning
  // kept the awaited thread off it, and each run took 25 times as long.
  // True if the condition came within the polling.
  template <typename Condition>
  static bool spin_until(const Condition& ready) {
    for (int i = 0; i < kPauses; ++i) {
      if (ready()) return true;
      _mm_pause();
    }
    const auto deadline = std::chrono::steady_clock::now() + kPolling;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      sched_yield();
    }
    return ready();
  }

  void work(std::size_t k) {
    std::uint64_t seen = 0;
    while (true) {
      const std::function<void(std::size_t)>* job;
      spin_until([&] { return generation_.load() != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        if (stopping_) return;
        job = job_;
      }
      std::exception_ptr error;
      try {
        (*job)(k);
      } catch (...) {
        error = std::current_exception();
      }
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        errors_[k] = error;
        if (pending_.fetch_sub(1) == 1) done_.notify_one();
      }
    }
  }

  std::vector<std::unique_ptr<Predictor>> parts_;
  std::uint32_t max_streams_ = 0;
  std::vector<Rows> rows_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // Pauses before yielding, a few microseconds: at 1,000 (25 us) two runs
  // at once took 1.7 times as long as at 100, one run alone no less.
  static constexpr int kPauses = 100;
  static constexpr std::chrono::microseconds kPolling{500};
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stopping_ = false;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace

std::unique_ptr<Predictor> make_parallel_predictor(std::vector<std::unique_ptr<Predictor>> parts) {
  if (parts.size() == 1) return std::move(parts[0]);
  return std::make_unique<ParallelPredictor>(std::move(parts));
}

}  // namespace lmzip

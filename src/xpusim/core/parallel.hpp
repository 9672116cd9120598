#pragma once
// A minimal fork-join loop over indices, for evaluations that are independent of each other.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace xpusim {

/// Calls `body(i)` for every i in [0, count) on up to `threads` threads (0: all cores).
/// `body` must be safe to run concurrently for different i; exceptions must not escape it.
template <class Body>
void parallel_for(std::size_t count, Body&& body, unsigned threads = 0) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, count));
  if (threads <= 1) {
    for (std::size_t i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) body(i);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
}

}  // namespace xpusim

#pragma once
// A paged KV cache as the scheduler sees it: a pool of fixed-size blocks (vLLM's
// PagedAttention). Which physical block holds what does not change any timing, so the pool
// counts blocks rather than naming them.

#include <algorithm>
#include <cassert>
#include <cstdint>

namespace xpusim::serve {

class BlockPool {
 public:
  BlockPool(int64_t total_blocks, int64_t block_size)
      : total_(total_blocks), block_size_(block_size) {}

  /// Blocks that hold `tokens` tokens.
  [[nodiscard]] int64_t blocks_for(int64_t tokens) const {
    return (tokens + block_size_ - 1) / block_size_;
  }
  [[nodiscard]] int64_t total() const { return total_; }
  [[nodiscard]] int64_t used() const { return used_; }
  [[nodiscard]] int64_t free() const { return total_ - used_; }
  [[nodiscard]] int64_t max_used() const { return max_used_; }
  [[nodiscard]] int64_t block_size() const { return block_size_; }

  /// Takes `n` blocks if at least `n + keep_free` are free.
  [[nodiscard]] bool try_allocate(int64_t n, int64_t keep_free = 0) {
    if (n <= 0) return true;
    if (n > free() - keep_free) return false;
    used_ += n;
    max_used_ = std::max(max_used_, used_);
    assert(used_ <= total_);
    return true;
  }
  void release(int64_t n) {
    assert(n <= used_);
    used_ -= n;
  }

 private:
  int64_t total_ = 0;
  int64_t block_size_ = 16;
  int64_t used_ = 0;
  int64_t max_used_ = 0;
};

}  // namespace xpusim::serve

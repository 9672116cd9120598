#pragma once
// Progress of a long computation (a plan search, a serving run over many requests), reported
// through a callback the caller passes in its options: the library never writes to a terminal.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

namespace xpusim {

/// `done` of `total` units of `task` ("plan", "search", "serve") are finished.
struct ProgressUpdate {
  std::string_view task;
  int64_t done = 0;
  int64_t total = 0;
};

/// Called from any thread, one call at a time; empty: nobody listens.
using ProgressFn = std::function<void(const ProgressUpdate&)>;

/// Counts finished units from any number of threads and calls `fn` each time another whole
/// percent is done, so that a run of millions of units makes about a hundred calls.
class ProgressMeter {
 public:
  ProgressMeter(const ProgressFn& fn, std::string_view task, int64_t total)
      : fn_(fn), task_(task), total_(total) {}

  /// One more unit done.
  void step() {
    if (!fn_ || total_ <= 0) return;
    const int64_t done = ++done_;
    const int64_t percent = done * 100 / total_;
    if (percent == (done - 1) * 100 / total_ && done != total_) return;
    const std::lock_guard<std::mutex> lock(mutex_);
    fn_(ProgressUpdate{task_, done, total_});
  }

 private:
  const ProgressFn& fn_;
  std::string_view task_;
  int64_t total_;
  std::atomic<int64_t> done_{0};
  std::mutex mutex_;
};

}  // namespace xpusim

#pragma once
// Progress of a long computation (a plan search, a serving run over many requests), reported
// through a callback the caller passes in its options: the library never writes to a terminal.

#include <algorithm>
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

  /// `units` more units done (0 is fine). Reports only growing counts, whatever the threads'
  /// order, and always the last one.
  void advance(int64_t units = 1) {
    if (!fn_ || total_ <= 0 || units <= 0) return;
    const int64_t done = done_ += units;
    if (done * 100 / total_ == (done - units) * 100 / total_ && done < total_) return;
    const std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = std::min(done_.load(), total_);
    if (now <= reported_) return;
    reported_ = now;
    fn_(ProgressUpdate{task_, now, total_});
  }

 private:
  const ProgressFn& fn_;
  std::string_view task_;
  int64_t total_;
  std::atomic<int64_t> done_{0};
  std::mutex mutex_;
  int64_t reported_ = 0;  ///< guarded by mutex_
};

}  // namespace xpusim

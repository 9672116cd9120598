#pragma once
// The simulator's clock: events keyed by (time, sequence number) in a binary heap, so that
// events at the same time keep the order they were scheduled in and time never runs backward.

#include <cassert>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace xpusim::serve {

enum class EventKind : uint8_t { kArrival, kIterationDone, kTransferDone };

struct Event {
  double time = 0.0;
  uint64_t sequence = 0;
  EventKind kind = EventKind::kArrival;
  int32_t index = 0;  ///< kIterationDone: the engine; kTransferDone: the sequence
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity) {
    std::vector<Event> storage;
    storage.reserve(capacity);
    heap_ = Heap(Later{}, std::move(storage));
  }
  /// Schedules an event at `time` >= now().
  void push(double time, EventKind kind, int32_t index) {
    assert(time >= now_);
    heap_.push(Event{time, next_sequence_++, kind, index});
  }
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  /// Removes the earliest event and advances the clock to it.
  Event pop() {
    const Event e = heap_.top();
    heap_.pop();
    assert(e.time >= now_ && "time never runs backward");
    now_ = e.time;
    return e;
  }
  [[nodiscard]] double now() const { return now_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.sequence > b.sequence;
    }
  };
  using Heap = std::priority_queue<Event, std::vector<Event>, Later>;
  Heap heap_;
  double now_ = 0.0;
  uint64_t next_sequence_ = 0;
};

}  // namespace xpusim::serve

#pragma once
// One engine's queues and the policies that form its iterations (static, continuous,
// chunked prefill). Internal to the serving simulator.

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "xpusim/serve/kv_cache.hpp"
#include "xpusim/serve/simulator.hpp"

namespace xpusim::serve {

/// A request's progress.
struct Sequence {
  int64_t index = 0;  ///< the request's place in arrival order (its slot is reused later)
  int64_t input = 1;
  int64_t output = 1;
  double arrival = 0.0;
  double first_scheduled = -1.0;
  double first_token = -1.0;
  double finish = -1.0;
  int64_t kv_tokens = 0;     ///< tokens whose keys and values are in the cache
  int64_t generated = 0;     ///< tokens emitted
  int64_t prefill_goal = 0;  ///< while prefilling: kv_tokens to reach, then a token is emitted;
                             ///< 0 while decoding
  int64_t blocks = 0;        ///< KV blocks held
  int32_t preemptions = 0;
  bool swapped = false;         ///< preempted by swap: its kv_tokens are in host memory
  int32_t prefill_engine = -1;  ///< disaggregated: the engine holding the prompt's cache until
                                ///< the hand-off ends
  int64_t prefill_blocks = 0;   ///< the blocks held there
  int32_t decode_engine = -1;   ///< disaggregated: the engine that decodes it
  bool dropped = false;
};

/// One step of one sequence in an iteration.
struct BatchEntry {
  int32_t sequence = 0;
  int64_t new_tokens = 0;
};

/// An engine: one scheduler with its KV-cache pool, on one replica (or one pipeline slot of it).
struct Engine {
  Engine(int64_t blocks, int64_t block_size) : pool(blocks, block_size) {}
  BlockPool pool;
  std::deque<int32_t> waiting;    ///< FCFS; preempted sequences go back to the front
  std::vector<int32_t> running;   ///< in admission order
  std::vector<BatchEntry> batch;  ///< the iteration in flight
  int32_t replica = 0;
  int32_t slot = 0;
  int64_t outstanding = 0;  ///< routed here and not finished
  int64_t preemptions = 0;
  int64_t swap_out_tokens = 0;   ///< cached tokens copied to host by the iteration being formed
  int64_t swap_in_tokens = 0;    ///< and back
  std::deque<int32_t> incoming;  ///< disaggregated decode: prompts done elsewhere, FCFS
  int64_t in_transfer = 0;       ///< disaggregated: hand-offs holding blocks here, not running
  bool decode_only = false;      ///< disaggregated decode replica
  bool busy = false;
};

/// Forms the next iteration's batch of an engine.
class SchedulerPolicy {
 public:
  virtual ~SchedulerPolicy() = default;
  /// Fills `engine.batch` (empty: nothing to run) and moves sequences between the queues,
  /// allocating KV blocks and preempting by recompute when the cache runs out.
  virtual void schedule(Engine& engine, std::vector<Sequence>& sequences, double now) = 0;
};

/// The policy of `kind`; for kDisaggregated, the prefill pool's (chunked).
[[nodiscard]] std::unique_ptr<SchedulerPolicy> make_policy(SchedulerKind kind,
                                                           const EngineLimits& limits);

/// Blocks a sequence needs for its whole life (input + output - 1 cached tokens).
[[nodiscard]] int64_t lifetime_tokens(const Sequence& s);

}  // namespace xpusim::serve

// Scheduler policies of the serving simulator (docs/model.md, "Serving simulator").

#include "xpusim/serve/scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace xpusim::serve {

int64_t lifetime_tokens(const Sequence& s) {
  return s.input + s.output - 1;
}

namespace {

/// Grows the sequence's blocks to hold `tokens` cached tokens, keeping `keep_free` blocks free.
bool reserve(Engine& e, Sequence& s, int64_t tokens, int64_t keep_free = 0) {
  const int64_t need = e.pool.blocks_for(tokens) - s.blocks;
  if (!e.pool.try_allocate(need, keep_free)) return false;
  s.blocks += std::max<int64_t>(need, 0);
  return true;
}

/// Tokens the first step after admission runs: the whole prompt less any prefix already cached
/// and, after a preemption by recompute, the tokens generated so far; after a swap, where the
/// sequence left off.
int64_t admission_tokens(const Sequence& s) {
  if (!s.swapped) return s.input + s.generated - s.kv_tokens;
  return s.prefill_goal == 0 ? 1 : s.prefill_goal - s.kv_tokens;
}

/// Moves the head of the waiting queue to running; it prefills its prompt and, after a
/// preemption by recompute, the tokens it had generated; a swapped sequence's cache comes back.
void admit(Engine& e, Sequence& s, double now) {
  e.running.push_back(e.waiting.front());
  e.waiting.pop_front();
  if (s.swapped) {
    e.swap_in_tokens += s.kv_tokens;
    s.swapped = false;
  } else {
    s.prefill_goal = s.input + s.generated;
  }
  if (s.first_scheduled < 0.0) s.first_scheduled = now;
}

/// Preempts the last running sequence: its blocks are freed and it waits at the front of the
/// queue, to prefill again (recompute, vLLM's default) or to have its cache copied back (swap).
int32_t preempt_last(Engine& e, std::vector<Sequence>& sequences, Preemption mode) {
  const int32_t victim = e.running.back();
  e.running.pop_back();
  Sequence& s = sequences[victim];
  e.pool.release(s.blocks);
  s.blocks = 0;
  switch (mode) {
    case Preemption::kRecompute:
      s.kv_tokens = 0;
      s.prefill_goal = 0;
      break;
    case Preemption::kSwap:
      s.swapped = true;
      e.swap_out_tokens += s.kv_tokens;
      break;
  }
  ++s.preemptions;
  ++e.preemptions;
  e.waiting.push_front(victim);
  return victim;
}

/// Gives running[i] the blocks for `tokens` more tokens, preempting from the tail of the running
/// queue as needed. False when running[i] itself had to be preempted.
bool reserve_or_preempt(Engine& e, std::vector<Sequence>& sequences, std::size_t i, int64_t tokens,
                        Preemption mode) {
  const int32_t id = e.running[i];
  Sequence& s = sequences[id];
  while (!reserve(e, s, s.kv_tokens + tokens)) {
    if (preempt_last(e, sequences, mode) == id) return false;
  }
  return true;
}

int64_t watermark_blocks(const Engine& e, const EngineLimits& limits) {
  return static_cast<int64_t>(std::floor(limits.watermark * static_cast<double>(e.pool.total())));
}

/// Static batching (FasterTransformer, Hugging Face generate): when the engine is empty, up to
/// max_num_seqs waiting requests are admitted, each reserving the cache of its whole life, and
/// prefilled in one pass (no token budget); the batch decodes until its last request ends,
/// finished requests leaving their slots empty.
class StaticPolicy final : public SchedulerPolicy {
 public:
  explicit StaticPolicy(const EngineLimits& limits) : limits_(limits) {}
  void schedule(Engine& e, std::vector<Sequence>& sequences, double now) override {
    e.batch.clear();
    if (!e.running.empty()) {
      for (const int32_t id : e.running) e.batch.push_back({id, 1});
      return;
    }
    while (!e.waiting.empty() && static_cast<int64_t>(e.running.size()) < limits_.max_num_seqs) {
      const int32_t id = e.waiting.front();
      Sequence& s = sequences[id];
      if (!reserve(e, s, lifetime_tokens(s))) break;
      admit(e, s, now);
      e.batch.push_back({id, s.prefill_goal - s.kv_tokens});
    }
  }

 private:
  EngineLimits limits_;
};

/// Continuous batching as vLLM v0's default scheduler: whole prompts of waiting requests are
/// prefilled first (up to the token budget, the first always admitted), and when none can be
/// admitted every running sequence decodes one token; a sequence that needs a block preempts
/// the most recently admitted ones.
class ContinuousPolicy final : public SchedulerPolicy {
 public:
  explicit ContinuousPolicy(const EngineLimits& limits) : limits_(limits) {}
  void schedule(Engine& e, std::vector<Sequence>& sequences, double now) override {
    e.batch.clear();
    const int64_t keep_free = watermark_blocks(e, limits_);
    int64_t tokens = 0;
    while (!e.waiting.empty() && static_cast<int64_t>(e.running.size()) < limits_.max_num_seqs) {
      const int32_t id = e.waiting.front();
      Sequence& s = sequences[id];
      const int64_t goal = admission_tokens(s);
      if (!e.batch.empty() && tokens + goal > limits_.max_batched_tokens) break;
      if (!reserve(e, s, s.kv_tokens + goal, keep_free)) break;
      admit(e, s, now);
      e.batch.push_back({id, goal});
      tokens += goal;
    }
    if (!e.batch.empty()) return;
    for (std::size_t i = 0; i < e.running.size(); ++i) {
      if (reserve_or_preempt(e, sequences, i, 1, limits_.preemption)) {
        e.batch.push_back({e.running[i], 1});
      }
    }
  }

 private:
  EngineLimits limits_;
};

/// Chunked prefill with a token budget (Sarathi-Serve; vLLM with enable_chunked_prefill):
/// running sequences first, in admission order, each a decode token or the next chunk of its
/// prompt; then new requests' prompt chunks fill what is left of the budget.
class ChunkedPolicy final : public SchedulerPolicy {
 public:
  explicit ChunkedPolicy(const EngineLimits& limits) : limits_(limits) {}
  void schedule(Engine& e, std::vector<Sequence>& sequences, double now) override {
    e.batch.clear();
    int64_t budget = limits_.max_batched_tokens;
    for (std::size_t i = 0; i < e.running.size() && budget > 0; ++i) {
      const Sequence& s = sequences[e.running[i]];
      const int64_t tokens =
          s.prefill_goal == 0 ? 1 : std::min(s.prefill_goal - s.kv_tokens, budget);
      if (!reserve_or_preempt(e, sequences, i, tokens, limits_.preemption)) continue;
      e.batch.push_back({e.running[i], tokens});
      budget -= tokens;
    }
    const int64_t keep_free = watermark_blocks(e, limits_);
    while (budget > 0 && !e.waiting.empty() &&
           static_cast<int64_t>(e.running.size()) < limits_.max_num_seqs) {
      const int32_t id = e.waiting.front();
      Sequence& s = sequences[id];
      const int64_t chunk = std::min(admission_tokens(s), budget);
      if (!reserve(e, s, s.kv_tokens + chunk, keep_free)) break;
      admit(e, s, now);
      e.batch.push_back({id, chunk});
      budget -= chunk;
    }
  }

 private:
  EngineLimits limits_;
};

}  // namespace

std::unique_ptr<SchedulerPolicy> make_policy(SchedulerKind kind, const EngineLimits& limits) {
  switch (kind) {
    case SchedulerKind::kStatic:
      return std::make_unique<StaticPolicy>(limits);
    case SchedulerKind::kContinuous:
      return std::make_unique<ContinuousPolicy>(limits);
    case SchedulerKind::kChunked:
    case SchedulerKind::kDisaggregated:  // the prefill pool's; the decode pool's is continuous
      return std::make_unique<ChunkedPolicy>(limits);
  }
  return nullptr;
}

}  // namespace xpusim::serve

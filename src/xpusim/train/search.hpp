#pragma once
// Exhaustive search over parallel plans: every valid combination of tp, pp, virtual stages, cp,
// ep, dp, micro-batch, recomputation, ZeRO stage and sequence parallelism; those that do not
// fit are discarded and the best K by step time are kept. Both cores, no allocation per
// evaluation (the plan space is enumerated up front; each worker keeps its own top K).

#include <cstdint>
#include <vector>

#include "xpusim/core/progress.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {

struct SearchOptions {
  int top_k = 10;
  std::vector<int64_t> micro_batches = {1, 2, 4, 8, 16};
  int max_virtual_stages = 8;
  int max_context_parallel = 16;
  unsigned threads = 0;              ///< 0: every core
  bool uneven_stages = true;         ///< also first/last stages one or two layers lighter
  bool offload_optimizer = false;    ///< applied to every plan, not searched
  bool offload_activations = false;  ///< applied to every plan, not searched
  ProgressFn progress;               ///< told as the plan space is covered; empty: nobody
};

struct RankedPlan {
  ParallelPlan plan;
  TrainingResult result;
};

struct SearchResult {
  std::vector<RankedPlan> best;  ///< fastest first
  int64_t evaluated = 0;         ///< valid plans whose step was computed
  int64_t fitting = 0;           ///< of those, the ones that fit in memory
};

[[nodiscard]] SearchResult search_training(const ModelSpec& model, const SystemSpec& system,
                                           const TrainingJob& job, const SearchOptions& options);

}  // namespace xpusim

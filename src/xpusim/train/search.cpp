#include "xpusim/train/search.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <thread>

#include "xpusim/core/parallel.hpp"

namespace xpusim {

namespace {

std::vector<int> divisors(int n, int limit) {
  std::vector<int> out;
  for (int d = 1; d <= n && d <= limit; ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

/// The choices that set the per-micro-batch cost; everything else is decided per plan.
struct Outer {
  int tp, cp, ep;
  bool sp;
  int64_t micro_batch;
};

/// A worker's best K, kept sorted by step time without allocating.
class TopK {
 public:
  explicit TopK(int k) : k_(k) { items_.reserve(static_cast<std::size_t>(k) + 1); }
  void offer(const ParallelPlan& plan, const TrainingResult& result) {
    if (static_cast<int>(items_.size()) == k_ &&
        !(result.step_time < items_.back().result.step_time))
      return;
    const auto at =
        std::upper_bound(items_.begin(), items_.end(), result.step_time,
                         [](Seconds t, const RankedPlan& r) { return t < r.result.step_time; });
    items_.insert(at, RankedPlan{plan, result});  // within the reserved capacity
    if (static_cast<int>(items_.size()) > k_) items_.pop_back();
  }
  [[nodiscard]] const std::vector<RankedPlan>& items() const { return items_; }

 private:
  int k_;
  std::vector<RankedPlan> items_;
};

struct Worker {
  explicit Worker(int k) : best(k) {}
  TopK best;
  int64_t evaluated = 0;
  int64_t fitting = 0;
};

std::vector<Outer> outer_choices(const ModelSpec& m, const SystemSpec& sys,
                                 const SearchOptions& o) {
  const int devices = sys.devices();
  std::vector<Outer> out;
  for (int tp : divisors(devices, sys.scale_up.domain_devices)) {
    for (int cp : divisors(devices / tp, o.max_context_parallel)) {
      const int max_ep = m.moe ? static_cast<int>(m.moe->num_experts) : 1;
      for (int ep : divisors(devices / tp, max_ep)) {
        for (int sp = 0; sp < (tp > 1 ? 2 : 1); ++sp) {
          for (int64_t mb : o.micro_batches) out.push_back({tp, cp, ep, sp == 1, mb});
        }
      }
    }
  }
  return out;
}

/// A pipeline split: Megatron's first and last stage layer counts (nullopt: an even share).
struct StageSplit {
  std::optional<int> first, last;
};

/// The even split when pp x vpp divides the layers, and the first and/or last stage one or two
/// layers lighter than the others (c = (L + d_first + d_last) / pp layers on every other stage,
/// each count a multiple of vpp): the lighter last stage balances the LM head, the lighter
/// first stage its extra activations in flight. At most 9, in a fixed array (no allocation).
struct StageSplits {
  std::array<StageSplit, 9> items;
  int count = 0;
  const StageSplit* begin() const { return items.data(); }
  const StageSplit* end() const { return items.data() + count; }
};

StageSplits stage_splits(const ModelSpec& m, int pp, int vpp, bool uneven) {
  StageSplits out;
  const auto layers = static_cast<int>(m.layers);
  if (layers % (pp * vpp) == 0) out.items[out.count++] = {};
  if (!uneven || pp < 2) return out;
  for (int lighter_first = 0; lighter_first <= 2; ++lighter_first) {
    for (int lighter_last = 0; lighter_last <= 2; ++lighter_last) {
      if (lighter_first + lighter_last == 0) continue;
      const int total = layers + lighter_first + lighter_last;
      if (total % pp != 0) continue;
      const int others = total / pp;
      const int first = others - lighter_first, last = others - lighter_last;
      if (first < vpp || last < vpp || others % vpp != 0 || first % vpp != 0 || last % vpp != 0)
        continue;
      StageSplit split;
      if (lighter_first > 0) split.first = first;
      if (lighter_last > 0) split.last = last;
      out.items[out.count++] = split;
    }
  }
  return out;
}

void search_outer(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                  const SearchOptions& o, const Outer& outer, Worker& worker) {
  const int devices = sys.devices();
  ParallelPlan plan;
  plan.tp = outer.tp;
  plan.cp = outer.cp;
  plan.ep = outer.ep;
  plan.sequence_parallel = outer.sp;
  plan.micro_batch = outer.micro_batch;
  plan.pp = 1;
  plan.dp = devices / (plan.tp * plan.cp);
  // The micro-batch cost does not depend on pp, vpp, dp, ZeRO or recomputation: one probe
  // with pp = 1 checks the shared constraints and prices the micro-batch for all of them.
  bool priced = false;
  MicroBatchCost costs;
  const int rest = devices / (plan.tp * plan.cp);
  plan.offload_optimizer = o.offload_optimizer;
  plan.offload_activations = o.offload_activations;
  for (int pp = 1; pp <= rest; ++pp) {
    if (rest % pp != 0) continue;
    plan.pp = pp;
    plan.dp = rest / pp;
    const int max_vpp = pp == 1 ? 1 : o.max_virtual_stages;
    for (int vpp = 1; vpp <= max_vpp; ++vpp) {
      plan.vpp = vpp;
      for (const StageSplit& split : stage_splits(m, pp, vpp, o.uneven_stages)) {
        plan.first_stage_layers = split.first;
        plan.last_stage_layers = split.last;
        for (Recompute rc : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
          // With FlashAttention, Megatron's selective recomputation is what the attention
          // kernel already does: the plan would repeat `none` exactly.
          if (rc == Recompute::kSelective && job.fused_attention &&
              job.selective_recompute == SelectiveRecompute::kCoreAttention)
            continue;
          plan.recompute = rc;
          for (int zero = 0; zero <= 3; ++zero) {
            plan.zero_stage = zero;
            if (!plan_is_valid(m, sys, job, plan)) continue;
            if (!priced) {
              costs = micro_batch_cost(m, sys, job, plan);
              priced = true;
            }
            const TrainingResult result = finish_step(m, sys, job, plan, costs);
            ++worker.evaluated;
            if (!result.fits) continue;
            ++worker.fitting;
            worker.best.offer(plan, result);
          }
        }
      }
    }
  }
}

}  // namespace

SearchResult search_training(const ModelSpec& model, const SystemSpec& system,
                             const TrainingJob& job, const SearchOptions& options) {
  const std::vector<Outer> outers = outer_choices(model, system, options);
  const unsigned threads =
      options.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : options.threads;
  std::vector<Worker> workers(threads, Worker(options.top_k));
  ProgressMeter progress(options.progress, "search", static_cast<int64_t>(outers.size()));
  // Workers take outer choices in strides so that each keeps its own counters and top K.
  parallel_for(
      threads,
      [&](std::size_t w) {
        for (std::size_t i = w; i < outers.size(); i += threads) {
          search_outer(model, system, job, options, outers[i], workers[w]);
          progress.advance();
        }
      },
      threads);
  SearchResult result;
  TopK merged(options.top_k);
  for (const auto& w : workers) {
    result.evaluated += w.evaluated;
    result.fitting += w.fitting;
    for (const auto& r : w.best.items()) merged.offer(r.plan, r.result);
  }
  result.best = merged.items();
  return result;
}

}  // namespace xpusim

#include "xpusim/train/schedule.hpp"

#include <algorithm>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

struct OpId {
  int chunk;
  int64_t micro_batch;
  bool backward;
};

/// Megatron-LM's op order on `stage` (schedules.py: forward_backward_pipelining_with(out)
/// _interleaving): warm-up forwards, then one forward and one backward in turn, then the
/// remaining backwards.
std::vector<OpId> stage_order(int stage, int pp, int vpp, int64_t m) {
  const int64_t total = m * vpp;
  const int64_t warmup = vpp == 1 ? std::min<int64_t>(pp - stage - 1, m)
                                  : std::min<int64_t>((pp - stage - 1) * 2 + (vpp - 1) * pp, total);
  auto forward_op = [&](int64_t k) {
    if (vpp == 1) return OpId{0, k, false};
    return OpId{static_cast<int>((k / pp) % vpp), (k / (pp * vpp)) * pp + k % pp, false};
  };
  auto backward_op = [&](int64_t k) {
    if (vpp == 1) return OpId{0, k, true};
    return OpId{vpp - 1 - static_cast<int>((k / pp) % vpp), (k / (pp * vpp)) * pp + k % pp, true};
  };
  std::vector<OpId> order;
  for (int64_t k = 0; k < warmup; ++k) order.push_back(forward_op(k));
  for (int64_t j = 0; j < total - warmup; ++j) {
    order.push_back(forward_op(warmup + j));
    order.push_back(backward_op(j));
  }
  for (int64_t j = total - warmup; j < total; ++j) order.push_back(backward_op(j));
  return order;
}

}  // namespace

PipelineSchedule simulate_pipeline(int pp, int vpp, int64_t m, Seconds forward, Seconds backward,
                                   Seconds send) {
  const auto chunks = static_cast<std::size_t>(pp) * static_cast<std::size_t>(vpp);
  return simulate_pipeline(pp, vpp, m, std::vector<Seconds>(chunks, forward),
                           std::vector<Seconds>(chunks, backward), send);
}

PipelineSchedule simulate_pipeline(int pp, int vpp, int64_t m, const std::vector<Seconds>& forward,
                                   const std::vector<Seconds>& backward, Seconds send) {
  const auto chunks = static_cast<std::size_t>(pp) * static_cast<std::size_t>(vpp);
  if (forward.size() != chunks || backward.size() != chunks)
    throw Error(Error::Kind::kInternal, "simulate_pipeline: one time per chunk (pp x vpp)");
  // done[stage][chunk][mb][backward] = end time, or -1 while not yet run.
  const auto index = [&](int stage, int chunk, int64_t mb, bool bwd) {
    return ((static_cast<int64_t>(stage) * vpp + chunk) * m + mb) * 2 + (bwd ? 1 : 0);
  };
  std::vector<double> done(static_cast<std::size_t>(index(pp, 0, 0, false)), -1.0);
  std::vector<std::vector<OpId>> orders;
  for (int s = 0; s < pp; ++s) orders.push_back(stage_order(s, pp, vpp, m));
  std::vector<std::size_t> next(static_cast<std::size_t>(pp), 0);
  std::vector<double> free_at(static_cast<std::size_t>(pp), 0.0);

  // The op a forward or backward waits for, and whether that op is on another device.
  auto dependency = [&](int s, const OpId& op, int& ds, int& dc, bool& dbwd) {
    if (!op.backward) {
      if (s > 0) return ds = s - 1, dc = op.chunk, dbwd = false, true;
      if (op.chunk > 0) return ds = pp - 1, dc = op.chunk - 1, dbwd = false, true;
      return false;
    }
    if (s < pp - 1) return ds = s + 1, dc = op.chunk, dbwd = true, true;
    if (op.chunk < vpp - 1) return ds = 0, dc = op.chunk + 1, dbwd = true, true;
    return ds = s, dc = op.chunk, dbwd = false, true;  // its own forward
  };

  PipelineSchedule schedule;
  std::size_t remaining = 0;
  for (const auto& order : orders) remaining += order.size();
  while (remaining > 0) {
    bool progress = false;
    for (int s = 0; s < pp; ++s) {
      auto& cursor = next[static_cast<std::size_t>(s)];
      while (cursor < orders[static_cast<std::size_t>(s)].size()) {
        const OpId& op = orders[static_cast<std::size_t>(s)][cursor];
        double ready = 0.0;
        int ds = 0, dc = 0;
        bool dbwd = false;
        if (dependency(s, op, ds, dc, dbwd)) {
          const double end = done[static_cast<std::size_t>(index(ds, dc, op.micro_batch, dbwd))];
          if (end < 0.0) break;  // not yet computed: try the other stages first
          ready = end + (ds != s ? send.value() : 0.0);
        }
        const double start = std::max(ready, free_at[static_cast<std::size_t>(s)]);
        const std::size_t k = static_cast<std::size_t>(op.chunk) * static_cast<std::size_t>(pp) +
                              static_cast<std::size_t>(s);
        const double end = start + (op.backward ? backward[k] : forward[k]).value();
        done[static_cast<std::size_t>(index(s, op.chunk, op.micro_batch, op.backward))] = end;
        free_at[static_cast<std::size_t>(s)] = end;
        schedule.ops.push_back(
            {s, op.chunk, op.micro_batch, op.backward, Seconds(start), Seconds(end)});
        schedule.length = max(schedule.length, Seconds(end));
        ++cursor;
        --remaining;
        progress = true;
      }
    }
    if (!progress)
      throw Error(Error::Kind::kInternal, "pipeline schedule deadlocked (a bug in the op order)");
  }
  return schedule;
}

}  // namespace xpusim

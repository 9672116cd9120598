#pragma once
// The pipeline schedule of one step, simulated op by op: Megatron-LM's 1F1B and, with virtual
// stages, its interleaved 1F1B. Used for the trace; the search uses the closed form, and a test
// holds the two together.

#include <cstdint>
#include <vector>

#include "xpusim/core/units.hpp"

namespace xpusim {

struct ScheduledOp {
  int stage = 0;
  int chunk = 0;  ///< model chunk (virtual stage) on this device
  int64_t micro_batch = 0;
  bool backward = false;
  Seconds start;
  Seconds end;
};

struct PipelineSchedule {
  std::vector<ScheduledOp> ops;  ///< in each stage's execution order
  Seconds length;                ///< from the first op's start to the last op's end
};

/// `forward`/`backward`: one chunk of one micro-batch on one stage; `send`: one activation or
/// gradient transfer between neighbouring stages. Requires micro_batches % pp == 0 when vpp > 1.
[[nodiscard]] PipelineSchedule simulate_pipeline(int pp, int vpp, int64_t micro_batches,
                                                 Seconds forward, Seconds backward, Seconds send);

/// The same with a time per model chunk (uneven stages): `forward[k]`, `backward[k]` for chunk
/// k = c pp + s, model chunk c on stage s (Megatron-Core's layout order); pp x vpp entries each.
[[nodiscard]] PipelineSchedule simulate_pipeline(int pp, int vpp, int64_t micro_batches,
                                                 const std::vector<Seconds>& forward,
                                                 const std::vector<Seconds>& backward,
                                                 Seconds send);

}  // namespace xpusim

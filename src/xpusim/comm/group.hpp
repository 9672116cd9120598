#pragma once
// Collectives over a group of ranks placed on a SystemSpec: which fabric each step crosses,
// which algorithm the libraries use (NCCL, RCCL, XLA), and the time as latency plus a transfer
// at the fabric's measured bus bandwidth for the message size. The one collective model of
// xpusim: training, inference and serving all price communication here. Formulas and sources:
// docs/model.md, "Collectives".

#include <optional>

#include "xpusim/core/units.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {

enum class Collective { kAllReduce, kReduceScatter, kAllGather, kAllToAll, kPointToPoint };

/// Where a communicating group sits: `ranks` members, of which `ranks_per_domain` share one
/// scale-up domain (1 when every member is in a different domain, `ranks` when all share one).
/// `ranks_per_domain` divides `ranks`. Megatron's rank order (tp innermost, then cp, ep/dp, pp)
/// determines it: a dimension of stride s keeps min(ranks, max(1, domain / s)) members together.
struct GroupPlacement {
  int ranks = 1;
  int ranks_per_domain = 1;
  bool same_rail =
      true;  ///< on a rail-optimized network, members share local ranks (DP, PP groups)
};

/// Time of one collective. `bytes` is, per rank: the buffer for all-reduce, the input for
/// reduce-scatter, the output for all-gather, everything it sends for all-to-all, the message
/// for point-to-point. A group of one rank costs nothing. Allocates nothing.
[[nodiscard]] Seconds collective_time(Collective kind, Bytes bytes, const GroupPlacement& group,
                                      const SystemSpec& system);

/// The same collective among `ranks` members of one scale-up domain `fabric` (for tensor
/// parallelism in inference and serving, with `scale_up_fabric(accelerator)`): exactly
/// collective_time on a system whose one domain is `fabric`. Allocates nothing.
[[nodiscard]] Seconds scale_up_collective_time(Collective kind, Bytes bytes, int ranks,
                                               const ScaleUpFabric& fabric);

/// One copy of `bytes` between a device and its host's memory (a swapped KV cache, offloaded
/// state) over the accelerator's host link, or nullopt when its file gives none.
[[nodiscard]] std::optional<Seconds> host_transfer_time(Bytes bytes,
                                                        const AcceleratorSpec& accelerator);

/// Placement of a parallel dimension of `size` ranks whose neighbours are `stride` ranks
/// apart in the global rank order, on `system`.
[[nodiscard]] GroupPlacement place_group(int size, int stride, const SystemSpec& system);

}  // namespace xpusim

#pragma once
// Collective communication times over one fabric, as latency plus bandwidth terms
// (the alpha-beta model), with the bus-bandwidth factors of nccl-tests.

#include "xpusim/core/units.hpp"

namespace xpusim {

/// A fabric as one rank sees it.
struct Link {
  BytesPerSecond bandwidth;  ///< per device, per direction, peak
  double efficiency = 1.0;   ///< achieved bus bandwidth / peak (kernel-level calibration)
  Seconds latency;           ///< per step

  [[nodiscard]] BytesPerSecond achievable() const { return bandwidth * efficiency; }
};

/// Ring all-reduce of `bytes` per rank among `ranks`: 2(n-1) steps, each moving bytes/n.
/// Bus bandwidth factor 2(n-1)/n (nccl-tests PERFORMANCE.md). One rank costs nothing.
[[nodiscard]] Seconds ring_all_reduce_time(Bytes bytes, int ranks, const Link& link);

/// Tree all-reduce (reduce to a root and broadcast back, as NCCL's double binary tree):
/// 2 ceil(log2 n) latency steps, and each rank moves the whole message twice.
[[nodiscard]] Seconds tree_all_reduce_time(Bytes bytes, int ranks, const Link& link);

/// All-reduce with the faster of ring and tree, as NCCL's tuner chooses: the tree for small
/// (latency-bound) messages, the ring for large ones.
[[nodiscard]] Seconds all_reduce_time(Bytes bytes, int ranks, const Link& link);

/// Ring all-gather (or reduce-scatter) where each rank ends with (or starts from) `bytes`
/// in total: n-1 steps of bytes/n, bus bandwidth factor (n-1)/n.
[[nodiscard]] Seconds ring_all_gather_time(Bytes bytes, int ranks, const Link& link);

}  // namespace xpusim

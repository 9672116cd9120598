#include "xpusim/comm/group.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace xpusim {
namespace {

/// A phase's latency and transfer terms, kept apart so that phases on different fabrics can
/// overlap their transfers: NCCL pipelines chunks through every stage of a collective.
struct Cost {
  Seconds latency;
  Seconds transfer;

  [[nodiscard]] Seconds total() const { return latency + transfer; }
};

/// Two phases on different fabrics, pipelined: latencies add, transfers overlap.
Cost pipelined(Cost a, Cost b) {
  return {a.latency + b.latency, max(a.transfer, b.transfer)};
}

/// Two independent transfers issued together (an all-to-all's sends inside and outside the
/// domain): the slower one sets the time.
Seconds concurrent(Cost a, Cost b) {
  return max(a.total(), b.total());
}

Cost twice(Cost a) {
  return {a.latency * 2.0, a.transfer * 2.0};
}

/// (n-1)/n: the share of a buffer that crosses a rank's links in a ring gather or scatter.
double gather_factor(int n) {
  return (n - 1.0) / n;
}

/// ceil(log2 n) for n >= 1: the depth of a binary tree over n ranks.
int tree_depth(int n) {
  return std::bit_width(static_cast<unsigned>(n - 1));
}

/// One level of the hierarchy as the algorithms see it: a flat fabric (a switch, or a NIC per
/// device into a network) where each member reaches every other at `bandwidth`, or a torus of
/// direct links, each of `bandwidth` per direction.
struct Level {
  bool torus = false;
  std::array<int, 3> dims{1, 1, 1};
  BytesPerSecond bandwidth;  ///< flat: per device; torus: per link, per direction; large messages
  Seconds latency;           ///< per step (flat) or per hop (torus)
  const BusBandwidthCurve* curve = nullptr;  ///< the fabric's, alive for the call
};

/// A torus whose devices split `bandwidth` (per direction, all links) over two links per
/// dimension longer than one.
Level torus_level(std::array<int, 3> dims, BytesPerSecond bandwidth, Seconds latency,
                  const BusBandwidthCurve* curve) {
  int used = 0;
  for (int& d : dims) {
    d = std::max(d, 1);
    used += d > 1 ? 1 : 0;
  }
  return {true, dims, bandwidth / (2.0 * std::max(used, 1)), latency, curve};
}

Level scale_up_level(const ScaleUpFabric& f) {
  const BytesPerSecond bw = f.bandwidth * f.efficiency;
  switch (f.topology) {
    case ScaleUpTopology::kSwitched:
      return {false, {1, 1, 1}, bw, f.latency, &f.curve};
    case ScaleUpTopology::kTorus:
      return torus_level(f.torus_dims, bw, f.latency, &f.curve);
    case ScaleUpTopology::kRing:
      return torus_level({f.domain_devices, 1, 1}, bw, f.latency, &f.curve);
  }
  return {false, {1, 1, 1}, bw, f.latency, &f.curve};
}

/// Traffic that leaves a leaf shares its uplinks (bandwidth / oversubscription) unless the
/// network is rail-optimized and the group's members share a rail.
Level scale_out_level(const ScaleOutNetwork& n, bool same_rail) {
  const BytesPerSecond bw = n.bandwidth * n.efficiency;
  const double over = std::max(n.oversubscription, 1.0);
  switch (n.topology) {
    case ScaleOutTopology::kFatTree:
      return {false, {1, 1, 1}, bw / over, n.latency, &n.curve};
    case ScaleOutTopology::kRailOptimized:
      return {false, {1, 1, 1}, same_rail ? bw : bw / over, n.latency, &n.curve};
    case ScaleOutTopology::kTorus:
      return torus_level(n.torus_dims, bw, n.latency, &n.curve);
  }
  return {false, {1, 1, 1}, bw / over, n.latency, &n.curve};
}

/// How `ranks` members lie along each torus dimension: they fill the innermost dimension
/// first; a span covering its whole dimension closes a ring (wraparound links), a shorter one
/// is a line.
struct Span {
  std::array<int, 3> members{1, 1, 1};
  std::array<bool, 3> wraps{false, false, false};
};

Span span_of(int ranks, const std::array<int, 3>& dims) {
  Span s;
  int remaining = ranks;
  for (int i = 0; i < 3; ++i) {
    const int m = std::min(remaining, dims[i]);
    s.members[i] = m;
    s.wraps[i] = m == dims[i];
    remaining = (remaining + m - 1) / m;
  }
  // Members beyond the torus's shape (dimensions left unset) extend the last one as a line.
  s.members[2] *= remaining;
  s.wraps[2] = s.wraps[2] && remaining == 1;
  return s;
}

/// Hops of one dimension: a bidirectional ring reaches everyone in floor(m/2) hops, a line in
/// m-1 (scaling-book, "Sharding").
double hops(int members, bool wraps) {
  return wraps ? members / 2 : members - 1;
}

/// Ring reduce-scatter or all-gather of `s` bytes (the full buffer) among n ranks.
/// Torus: bidirectional rings along every spanned dimension at once, so the links of all of
/// them carry the (n-1)/n share (scaling-book: bytes / (bidirectional bandwidth x axes)).
Cost gather(const Level& l, Bytes s, int n) {
  if (!l.torus) return {l.latency * (n - 1.0), s * gather_factor(n) / l.bandwidth};
  const Span span = span_of(n, l.dims);
  double links = 0.0;
  double steps = 0.0;
  for (int i = 0; i < 3; ++i) {
    if (span.members[i] < 2) continue;
    links += span.wraps[i] ? 2.0 : 1.0;
    steps += hops(span.members[i], span.wraps[i]);
  }
  if (links == 0.0) return {};
  return {l.latency * steps, s * gather_factor(n) / (l.bandwidth * links)};
}

/// NCCL's ring all-reduce of `s` bytes among n ranks: 2(n-1) steps, 2(n-1)/n of the buffer.
/// On a torus: reduce-scatter then all-gather along the spanned dimensions.
Cost ring_all_reduce(const Level& l, Bytes s, int n) {
  if (l.torus) return twice(gather(l, s, n));
  return {l.latency * (2.0 * (n - 1)), s * (2.0 * gather_factor(n)) / l.bandwidth};
}

/// NCCL's tree all-reduce (reduce to a root and broadcast back): 2 ceil(log2 n) steps, each
/// rank moves the buffer twice. A torus has only the ring form.
Cost tree_all_reduce(const Level& l, Bytes s, int n) {
  if (l.torus) return twice(gather(l, s, n));
  return {l.latency * (2.0 * tree_depth(n)), s * 2.0 / l.bandwidth};
}

/// The cheaper of ring and tree at the large-message bus bandwidth, as NCCL's tuner picks.
Cost all_reduce(const Level& l, Bytes s, int n) {
  const Cost ring = ring_all_reduce(l, s, n);
  const Cost tree = tree_all_reduce(l, s, n);
  return ring.total() <= tree.total() ? ring : tree;
}

/// All-to-all where each rank's send buffer is `s` bytes, one n-th to each member (itself
/// included). Flat: the (n-1)/n that leaves goes out at once. Torus: dimension-ordered routing;
/// each dimension's links carry floor(m^2/4)/m of the buffer per byte sent (the middle link of a
/// line; half of it on each direction of a ring), the dimensions in parallel (scaling-book:
/// a quarter of an all-gather on a bidirectional ring).
Cost all_to_all(const Level& l, Bytes s, int n) {
  if (n < 2) return {};
  if (!l.torus) return {l.latency, s * gather_factor(n) / l.bandwidth};
  const Span span = span_of(n, l.dims);
  double worst = 0.0;
  double steps = 0.0;
  for (int i = 0; i < 3; ++i) {
    const int m = span.members[i];
    if (m < 2) continue;
    const double links = span.wraps[i] ? 2.0 : 1.0;
    worst = std::max(worst, static_cast<double>(m * m / 4) / m / links);
    steps += hops(m, span.wraps[i]);
  }
  return {l.latency * steps, s * worst / l.bandwidth};
}

/// The least time an all-to-all among n GPUs takes however small its message: the dispatch
/// kernel's launch, its peers' signalling and completion flags, which larger messages pipeline
/// with their transfer. Fitted to TensorRT-LLM's one-sided NVLink all-to-all at one token per
/// rank on GB200 NVL72 (18.9 us at 8 ranks, 27.8 us at 64: docs/source/blogs/tech_blog/
/// blog18_Optimizing_MoE_Communication_with_One_Sided_AlltoAll_Over_NVLink.md, commit 22de8b34;
/// data/validation/all_to_all_kernels.json checks the other sizes against it). Switched fabrics
/// only: no torus all-to-all was measured.
Seconds all_to_all_floor(int n) {
  constexpr double kFixedS = 17.8e-6;
  constexpr double kPerPeerS = (27.8e-6 - 18.9e-6) / (64 - 8);
  return Seconds(kFixedS + kPerPeerS * (n - 1));
}

/// One message to one peer: a flat fabric's full per-device bandwidth, or one torus link.
Cost point_to_point(const Level& l, Bytes s) {
  return {l.latency, s / l.bandwidth};
}

/// The share of the level's large-message bus bandwidth that a step of `s` bytes per rank
/// reaches (docs/model.md, "Bus bandwidth by message size"). A curve share is a measured
/// all-reduce time at `ranks` ranks, t = S 2(n-1)/n / (busbw x share) (nccl-tests' definition);
/// the latency that the model's all-reduce adds at that rank count is taken out of it, so the
/// model reproduces the measurement there and adds only the latency of more steps elsewhere.
/// Below the curve's smallest size the transfer keeps that size's rate (the latency regime
/// takes over); never above 1.
double share(const Level& l, Bytes s) {
  if (l.curve == nullptr) return 1.0;
  const BusBandwidthCurve& curve = *l.curve;
  const Bytes at = max(s, curve.smallest());
  const double measured = curve.share_at(at);
  if (measured >= 1.0) return 1.0;
  const Cost chosen = all_reduce(l, at, curve.ranks);
  if (chosen.transfer <= Seconds(0.0)) return 1.0;
  const Seconds transfer = ring_all_reduce(l, at, curve.ranks).transfer / measured - chosen.latency;
  return transfer <= chosen.transfer ? 1.0 : chosen.transfer / transfer;
}

/// `c` for a step of `s` bytes per rank on `l`: its transfer at the curve's share.
Cost sized(const Level& l, Bytes s, Cost c) {
  c.transfer = c.transfer / share(l, s);
  return c;
}

/// A collective inside one domain (k = 1), on the scale-up level alone.
Seconds in_one_domain(Collective kind, Bytes bytes, int n, const Level& up) {
  switch (kind) {
    case Collective::kAllReduce:
      return sized(up, bytes, all_reduce(up, bytes, n)).total();
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      return sized(up, bytes, gather(up, bytes, n)).total();
    case Collective::kAllToAll: {
      const Seconds t = sized(up, bytes, all_to_all(up, bytes, n)).total();
      return up.torus ? t : max(t, all_to_all_floor(n));
    }
    case Collective::kPointToPoint:
      return sized(up, bytes, point_to_point(up, bytes)).total();
  }
  return Seconds(0.0);
}

}  // namespace

Seconds collective_time(Collective kind, Bytes bytes, const GroupPlacement& group,
                        const SystemSpec& system) {
  const int n = group.ranks;
  if (n < 2) return Seconds(0.0);
  const int p = std::clamp(group.ranks_per_domain, 1, n);  // members per domain
  const int k = n / p;                                     // domains
  const Level up = scale_up_level(system.scale_up);
  if (k == 1) return in_one_domain(kind, bytes, n, up);
  const Level out = scale_out_level(system.scale_out, group.same_rail);
  // Each level's share is looked up at the bytes per rank of the step that crosses it.
  const Bytes across = bytes / p;
  switch (kind) {
    case Collective::kAllReduce:
      // Reduce-scatter in the domain, all-reduce of 1/p of the buffer across the domains (p
      // NICs in parallel), all-gather in the domain.
      return pipelined(sized(up, bytes, twice(gather(up, bytes, p))),
                       sized(out, across, all_reduce(out, across, k)))
          .total();
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      return pipelined(sized(up, bytes, gather(up, bytes, p)),
                       sized(out, across, gather(out, across, k)))
          .total();
    case Collective::kAllToAll: {
      // p/n of the buffer stays in the domain; (k-1)/k of it leaves through the device's NIC.
      const Bytes inside = bytes * (static_cast<double>(p) / n);
      const Seconds t = concurrent(sized(up, inside, all_to_all(up, inside, p)),
                                   sized(out, bytes, all_to_all(out, bytes, k)));
      return up.torus ? t : max(t, all_to_all_floor(n));
    }
    case Collective::kPointToPoint:
      // A group that spans domains has some neighbours in different domains; the slower hop
      // is the one a pipeline waits for.
      return sized(out, bytes, point_to_point(out, bytes)).total();
  }
  return Seconds(0.0);
}

Seconds scale_up_collective_time(Collective kind, Bytes bytes, int ranks,
                                 const ScaleUpFabric& fabric) {
  if (ranks < 2) return Seconds(0.0);
  return in_one_domain(kind, bytes, ranks, scale_up_level(fabric));
}

GroupPlacement place_group(int size, int stride, const SystemSpec& system) {
  GroupPlacement g;
  g.ranks = std::max(size, 1);
  const int s = std::max(stride, 1);
  const int domain = std::max(system.scale_up.domain_devices, 1);
  int together = std::min(g.ranks, std::max(1, domain / s));
  while (g.ranks % together != 0) --together;  // the largest divisor of the size that fits
  g.ranks_per_domain = together;
  // Members repeat the same local ranks in every domain when the stride divides the domain or
  // is a multiple of it (Megatron's order), so each cross-domain exchange stays on one rail.
  g.same_rail = s % domain == 0 || domain % s == 0;
  return g;
}

}  // namespace xpusim

#include "xpusim/comm/collectives.hpp"

#include <cmath>

namespace xpusim {

Seconds ring_all_reduce_time(Bytes bytes, int ranks, const Link& link) {
  if (ranks <= 1) return Seconds(0.0);
  const double n = ranks;
  const Seconds latency = link.latency * (2.0 * (n - 1.0));
  const Seconds transfer = bytes * (2.0 * (n - 1.0) / n) / link.achievable();
  return latency + transfer;
}

Seconds tree_all_reduce_time(Bytes bytes, int ranks, const Link& link) {
  if (ranks <= 1) return Seconds(0.0);
  const double depth = std::ceil(std::log2(static_cast<double>(ranks)));
  return link.latency * (2.0 * depth) + bytes * 2.0 / link.achievable();
}

Seconds all_reduce_time(Bytes bytes, int ranks, const Link& link) {
  return min(ring_all_reduce_time(bytes, ranks, link), tree_all_reduce_time(bytes, ranks, link));
}

Seconds ring_all_gather_time(Bytes bytes, int ranks, const Link& link) {
  if (ranks <= 1) return Seconds(0.0);
  const double n = ranks;
  return link.latency * (n - 1.0) + bytes * ((n - 1.0) / n) / link.achievable();
}

}  // namespace xpusim

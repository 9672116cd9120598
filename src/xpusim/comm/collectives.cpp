#include "xpusim/comm/collectives.hpp"

namespace xpusim {

Seconds ring_all_reduce_time(Bytes bytes, int ranks, const Link& link) {
  if (ranks <= 1) return Seconds(0.0);
  const double n = ranks;
  const Seconds latency = link.latency * (2.0 * (n - 1.0));
  const Seconds transfer = bytes * (2.0 * (n - 1.0) / n) / link.achievable();
  return latency + transfer;
}

Seconds ring_all_gather_time(Bytes bytes, int ranks, const Link& link) {
  if (ranks <= 1) return Seconds(0.0);
  const double n = ranks;
  return link.latency * (n - 1.0) + bytes * ((n - 1.0) / n) / link.achievable();
}

}  // namespace xpusim

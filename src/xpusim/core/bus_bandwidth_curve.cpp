#include "xpusim/core/bus_bandwidth_curve.hpp"

#include <fmt/format.h>

#include <cmath>

namespace xpusim {

double BusBandwidthCurve::share_at(Bytes bytes) const {
  const double s = bytes.value();
  if (s <= message_bytes[0]) return share[0];
  for (int i = 1; i < count; ++i) {
    if (s > message_bytes[i]) continue;
    const double t =
        std::log(s / message_bytes[i - 1]) / std::log(message_bytes[i] / message_bytes[i - 1]);
    return share[i - 1] * std::pow(share[i] / share[i - 1], t);
  }
  return 1.0;
}

BusBandwidthCurve read_bus_bandwidth_curve(YamlMap& parent, const std::string& key,
                                           FigureReader& figures) {
  YamlMap map = parent.required_map(key);
  BusBandwidthCurve curve;
  curve.ranks = figures.required_count(map, "ranks");
  if (curve.ranks < 2) map.fail("ranks.value", fmt::format("expected >= 2, got {}", curve.ranks));
  YAML::Node list = map.required("points");
  if (!list.IsSequence() || list.size() == 0 ||
      list.size() > static_cast<std::size_t>(BusBandwidthCurve::kMaxPoints)) {
    map.fail("points",
             fmt::format("expected a list of 1 to {} points", BusBandwidthCurve::kMaxPoints));
  }
  curve.count = static_cast<int>(list.size());
  for (int i = 0; i < curve.count; ++i) {
    const std::string name = fmt::format("points[{}]", i);
    if (!list[static_cast<std::size_t>(i)].IsMap())
      map.fail(name, "expected a mapping {message_bytes, value, source|estimate, note}");
    YamlMap point(list[static_cast<std::size_t>(i)], map.file(), map.key_path(name));
    const double bytes = point.required_number("message_bytes");
    if (!(bytes >= 1.0 && bytes <= 1e13))
      point.fail("message_bytes", fmt::format("expected 1 to 1e13 bytes, got {}", bytes));
    const double share = figures.read(point, map.key_path(name), {"message_bytes"});
    if (share > 1.0) point.fail("value", fmt::format("expected a share in (0, 1], got {}", share));
    if (i > 0) {
      const double previous_bytes = curve.message_bytes[static_cast<std::size_t>(i - 1)];
      const double previous_share = curve.share[static_cast<std::size_t>(i - 1)];
      if (bytes <= previous_bytes)
        point.fail("message_bytes",
                   fmt::format("expected more than the previous point's {:g}", previous_bytes));
      if (share / previous_share >= bytes / previous_bytes)
        point.fail("value", fmt::format("{} would make {:g} bytes faster than {:g} bytes at {}",
                                        share, bytes, previous_bytes, previous_share));
    }
    curve.message_bytes[static_cast<std::size_t>(i)] = bytes;
    curve.share[static_cast<std::size_t>(i)] = share;
  }
  if (curve.share[static_cast<std::size_t>(curve.count - 1)] != 1.0) {
    map.fail(fmt::format("points[{}].value", curve.count - 1),
             "expected 1: the last point is the large-message bus bandwidth");
  }
  map.finish({"ranks", "points"});
  return curve;
}

}  // namespace xpusim

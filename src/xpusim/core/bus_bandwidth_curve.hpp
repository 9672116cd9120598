#pragma once
// A fabric's all-reduce bus bandwidth as a function of message size, as calibration data: the
// share of the fabric's large-message bus bandwidth that nccl-tests (or its vendor twin) measures
// at each size, at one rank count. Read from `efficiency.scale_up_bus_bandwidth_curve` (hardware
// YAML) and `scale_out.bus_bandwidth_curve` (system YAML); used by comm/group.cpp.

#include <array>
#include <string>

#include "xpusim/core/figures.hpp"
#include "xpusim/core/units.hpp"
#include "xpusim/core/yaml_map.hpp"

namespace xpusim {

struct BusBandwidthCurve {
  static constexpr int kMaxPoints = 12;

  /// Ranks that the fabric's step spans in the measurement (8 GPUs of a node; 4 domains).
  int ranks = 1;
  int count = 1;
  /// Increasing message sizes (nccl-tests' size, per rank) and the measured bus bandwidth there
  /// as a share of the large-message one, in (0, 1]; the last share is 1. Fixed capacity, so a
  /// curve is copied without allocating.
  std::array<double, kMaxPoints> message_bytes{1.0};
  std::array<double, kMaxPoints> share{1.0};

  /// The measured share at `bytes`: a power law between neighbouring points (linear in
  /// log(size) and log(share)), 1 above the last point, the first point's share below it.
  [[nodiscard]] double share_at(Bytes bytes) const;
  [[nodiscard]] Bytes smallest() const { return Bytes(message_bytes[0]); }
};

/// Reads `parent.key`: `{ranks: figure, points: [{message_bytes: N, value: share, source|estimate,
/// note}, ...]}`. Points are figures with their provenance; sizes strictly increase, shares lie
/// in (0, 1] and end at 1, and a bigger message never takes less time (share_{i+1}/share_i <
/// bytes_{i+1}/bytes_i). Messages name the file and key path.
[[nodiscard]] BusBandwidthCurve read_bus_bandwidth_curve(YamlMap& parent, const std::string& key,
                                                         FigureReader& figures);

}  // namespace xpusim

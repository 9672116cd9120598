#pragma once
// What `xpusim calibrate` prints: the `sources:` entry and `efficiency:` block to paste into a
// hardware YAML, and the end-to-end check as YAML comments.

#include <string>
#include <vector>

#include "xpusim/calibrate/calibration.hpp"

namespace xpusim {

/// The YAML block for `hw_id` (valid YAML: everything else is a comment).
[[nodiscard]] std::string calibration_yaml(const std::string& hw_id, const Calibration& calibration,
                                           const std::vector<EndToEndCheck>& checks);

}  // namespace xpusim

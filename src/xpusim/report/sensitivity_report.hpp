#pragma once
// What `xpusim sensitivity` prints: per resource, the change in time and cost for one step.

#include <nlohmann/json.hpp>
#include <string>

#include "xpusim/study/sensitivity.hpp"

namespace xpusim {

/// `xpusim sensitivity ... --format json`: the base outcome and a row per resource (changes as
/// fractions; unmodelled resources with `modelled` false and their note).
[[nodiscard]] nlohmann::json sensitivity_json(const std::string& title, const Sensitivity& s);
[[nodiscard]] std::string sensitivity_text(const std::string& title, const Sensitivity& s);

}  // namespace xpusim

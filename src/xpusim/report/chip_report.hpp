#pragma once
// `xpusim chip derive`: the derived peaks, bandwidths and unit cost, and every input figure
// with its source. No computation happens here.

#include <nlohmann/json.hpp>
#include <string>

#include "xpusim/chip/derive.hpp"

namespace xpusim {

/// {"chip", "peaks", "unit_cost", "inputs": [figures of the chip, node, memory, packaging]}.
[[nodiscard]] nlohmann::json chip_derivation_json(const ChipSpec& chip, const ChipInputs& inputs,
                                                  const ChipDerivation& derivation);
[[nodiscard]] std::string chip_derivation_text(const ChipSpec& chip, const ChipInputs& inputs,
                                               const ChipDerivation& derivation);

}  // namespace xpusim

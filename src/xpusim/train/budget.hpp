#pragma once
// A whole training run from one step: wall time, device-hours, energy and cost for a token budget.

#include <optional>
#include <string>

#include "xpusim/econ/economics.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {

struct TrainingBudget {
  double tokens = 0.0;
  Seconds wall_time;
  double device_hours = 0.0;
  Joules energy;  ///< devices at TDP, times the facility's PUE
  std::optional<double> cost_usd;
  std::string cost_basis;  ///< "cloud", "owned", or "" without a price
};

[[nodiscard]] TrainingBudget budget_for(const TrainingResult& step, const SystemSpec& system,
                                        double tokens, const Economics& economics);

}  // namespace xpusim

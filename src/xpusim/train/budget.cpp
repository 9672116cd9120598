#include "xpusim/train/budget.hpp"

namespace xpusim {

TrainingBudget budget_for(const TrainingResult& step, const SystemSpec& system, double tokens,
                          const Economics& economics) {
  TrainingBudget b;
  b.tokens = tokens;
  b.wall_time = Seconds(tokens / step.tokens_per_s);
  const double devices = system.devices();
  b.device_hours = b.wall_time.value() * devices / kSecondsPerHour;
  b.energy = system.accelerator.tdp * (b.wall_time * devices) * economics.pue;
  if (const auto hourly = hourly_cost(system.accelerator, economics)) {
    b.cost_usd = hourly->per_device.value() * b.device_hours;
    b.cost_basis = hourly->basis;
  }
  return b;
}

}  // namespace xpusim

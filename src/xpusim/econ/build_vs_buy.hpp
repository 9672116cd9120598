#pragma once
// Building a chip against buying (or renting) GPUs for the same work (formulas: docs/model.md,
// "Cost of ownership and build versus buy"). The in-house chip's unit cost comes from
// `xpusim chip derive` (its entry's purchase price); the chip program's cost from
// data/economics.yaml `chip_program`.

#include <optional>
#include <vector>

#include "xpusim/econ/economics.hpp"
#include "xpusim/econ/tco.hpp"
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

enum class BuyBasis {
  kOwned,  ///< buy the GPUs: their owned cost per year (tco)
  kCloud,  ///< rent them for the used hours
};

struct BuildVsBuyRequest {
  /// Tokens per second of one busy device at the workload: the in-house chip as modelled (before
  /// its software efficiency) and the bought one.
  double in_house_tokens_per_s = 0.0;
  double bought_tokens_per_s = 0.0;
  /// Average tokens per second the fleet must serve.
  double workload_tokens_per_s = 0.0;
  double utilisation = 0.7;
  BuyBasis buy = BuyBasis::kOwned;
  int years = 10;  ///< horizon of the year-by-year table and of the break-even year
  /// Software efficiencies at which to report the break-even fleet (the program's own first).
  std::vector<double> efficiency_sweep = {0.3, 0.5, 0.7, 0.9, 1.0};
};

struct BreakEvenPoint {
  double software_efficiency = 0.0;
  /// Bought devices at which building costs the same per year (steady state); nullopt when
  /// the in-house device never costs less per unit of work than the bought one.
  std::optional<double> fleet_devices;
};

struct BuildVsBuyYear {
  int year = 0;
  Usd build_cumulative;  ///< program + bought devices until the chip arrives + own devices after
  Usd buy_cumulative;
};

struct BuildVsBuyResult {
  Usd program_per_year;
  double effective_in_house_tokens_per_s = 0.0;  ///< modelled x software efficiency
  double bought_devices = 0.0;                   ///< to serve the workload at the utilisation
  double in_house_devices = 0.0;
  Usd bought_per_device_year;
  Usd in_house_per_device_year;
  Usd buy_per_year;     ///< fleet
  Usd build_per_year;   ///< fleet + program, once the chip is in service
  Usd saving_per_year;  ///< buy - in-house fleet (before the program's cost)
  std::optional<double> break_even_fleet_devices;  ///< at the program's software efficiency
  std::optional<double> break_even_year;  ///< from program start; nullopt: not within the horizon
  std::vector<BreakEvenPoint> sweep;
  std::vector<BuildVsBuyYear> years;
};

/// The in-house chip against the bought one. Both need a purchase price (the bought one a
/// cloud price with BuyBasis::kCloud); errors name the field.
[[nodiscard]] BuildVsBuyResult build_vs_buy(const AcceleratorSpec& in_house,
                                            const AcceleratorSpec& bought,
                                            const Economics& economics,
                                            const BuildVsBuyRequest& request);

/// Bought devices at which the program pays for itself per year:
/// program / (bought cost - in-house cost x bought rate / (in-house rate x efficiency)).
[[nodiscard]] std::optional<double> break_even_fleet(Usd program_per_year,
                                                     Usd bought_per_device_year,
                                                     Usd in_house_per_device_year,
                                                     double bought_tokens_per_s,
                                                     double effective_in_house_tokens_per_s);

}  // namespace xpusim

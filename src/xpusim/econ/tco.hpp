#pragma once
// Total cost of ownership of a fleet against renting it, over time (formulas: docs/model.md,
// "Cost of ownership and build versus buy"). Built on the device capex and energy of
// economics.hpp, the same figures that price a device-hour elsewhere.

#include <optional>
#include <string>
#include <vector>

#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

struct TcoRequest {
  int devices = 1;
  double utilisation = 0.7;  ///< share of hours doing useful work, in (0, 1]
  int years = 5;             ///< horizon of the year-by-year table
  /// Generated (or trained) tokens per second of one busy device; nullopt: no per-token figures.
  std::optional<double> tokens_per_s_per_device;
  /// Tokens of one training run (or any job); needs the throughput.
  std::optional<double> run_tokens;
};

/// One device's cost per year of ownership, by line.
struct OwnedYear {
  Usd depreciation;  ///< capex / depreciation years, while the device is being written off
  Usd energy;        ///< TDP x utilisation x PUE x electricity x hours
  Usd facility;      ///< TDP (kW) x facility price x 12
  Usd operations;    ///< capex x operations share
  [[nodiscard]] Usd total() const { return depreciation + energy + facility + operations; }
};

struct TcoYear {
  int year = 0;          ///< 1-based
  Usd owned_cumulative;  ///< fleet: capex up front plus running costs to the end of this year
  std::optional<Usd> cloud_cumulative;  ///< fleet: rented for the used hours
};

struct TcoResult {
  Capex capex;                               ///< per device
  OwnedYear owned;                           ///< per device, a year within the depreciation period
  std::optional<UsdPerHour> cloud_price;     ///< per device-hour, when the catalog has one
  double used_hours_per_year = 0.0;          ///< hours x utilisation
  Usd owned_per_device_year;                 ///< owned.total()
  std::optional<Usd> cloud_per_device_year;  ///< cloud price x used hours
  UsdPerHour owned_per_used_hour;            ///< owned per device-year / used hours
  std::optional<double> owned_usd_per_million_tokens;
  std::optional<double> cloud_usd_per_million_tokens;
  std::optional<Usd> owned_run;          ///< fleet cost of the run's tokens, owned
  std::optional<Usd> cloud_run;          ///< rented
  std::optional<Seconds> run_wall_time;  ///< the run on the whole fleet at its utilisation
  std::vector<TcoYear> years;
};

/// Owned against rented for `request.devices` of `hw`. Needs a purchase price (an Error naming
/// `price.purchase_usd` otherwise); the cloud columns are empty without a cloud price.
[[nodiscard]] TcoResult total_cost_of_ownership(const AcceleratorSpec& hw,
                                                const Economics& economics,
                                                const TcoRequest& request);

/// One device's owned cost per year at `utilisation` (depreciation, energy, facility,
/// operations); nullopt without a purchase price.
[[nodiscard]] std::optional<OwnedYear> owned_cost_per_year(const AcceleratorSpec& hw,
                                                           const Economics& economics,
                                                           double utilisation);

}  // namespace xpusim

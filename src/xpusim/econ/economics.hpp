#pragma once
// What turns device-seconds into dollars and joules: electricity, cooling overhead (PUE),
// depreciation and the non-accelerator share of a server. Defaults are read from
// data/economics.yaml, where each carries its source.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "xpusim/core/units.hpp"
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

/// Which price turns device-hours into dollars.
enum class PriceBasis {
  kAuto,   ///< the on-demand cloud price where the catalog has one, else owned cost
  kCloud,  ///< on-demand cloud price only
  kOwned,  ///< purchase price amortized plus energy only
};

/// A chip program's non-recurring cost (data/economics.yaml, `chip_program`).
struct ChipProgram {
  double hardware_engineers = 0.0;
  double software_engineers = 0.0;
  Usd per_engineer_year;          ///< loaded cost: salary, benefits, equipment
  Usd eda_and_ip_per_year;        ///< tool licences and bought IP (SerDes, HBM PHY)
  Usd mask_set;                   ///< one tape-out's masks
  double generation_years = 0.0;  ///< a new chip (and mask set) every this many years
  double lead_years = 0.0;        ///< from program start to the first chips in service
  /// Share of its modelled throughput that the in-house software stack reaches (compilers,
  /// kernels, frameworks); 1 = as mature as the calibration's.
  double software_efficiency = 1.0;

  /// Design + software staff + EDA/IP + masks per generation, per year.
  [[nodiscard]] Usd per_year() const {
    return per_engineer_year * (hardware_engineers + software_engineers) + eda_and_ip_per_year +
           mask_set / generation_years;
  }
};

struct Economics {
  double electricity_usd_per_kwh = 0.0;
  double pue = 1.0;
  double depreciation_years = 0.0;
  double server_overhead_fraction =
      0.0;  ///< non-accelerator capex per accelerator, as a share of its price
  PriceBasis price_basis = PriceBasis::kAuto;
  /// Share of the non-accelerator capex that is networking (NICs, switches, optics, cables).
  double network_share_of_overhead = 0.0;
  double facility_usd_per_kw_month = 0.0;     ///< data-centre space, power and cooling plant
  double operations_fraction_per_year = 0.0;  ///< staff, spares, support, as a share of capex
  double utilisation = 1.0;  ///< default share of hours doing useful work (tco, build-vs-buy)
  ChipProgram chip_program;
};

/// "auto", "cloud" or "owned"; nullopt otherwise.
[[nodiscard]] std::optional<PriceBasis> parse_price_basis(std::string_view name);

/// Parses data/economics.yaml (format described in the file itself).
[[nodiscard]] Economics load_economics(const std::filesystem::path& file);

/// The cost of one device-hour and what it rests on.
struct HourlyCost {
  UsdPerHour per_device;
  std::string basis;  ///< "cloud": on-demand price; "owned": capex amortized + energy
};

/// One device's capital cost: the accelerator, the rest of its server, its share of the network.
struct Capex {
  Usd accelerator;
  Usd server;   ///< price x overhead x (1 - network share)
  Usd network;  ///< price x overhead x network share
  [[nodiscard]] Usd total() const { return accelerator + server + network; }
};

/// nullopt when the catalog has no purchase price.
[[nodiscard]] std::optional<Capex> device_capex(const AcceleratorSpec& hw,
                                                const Economics& economics);

/// Electricity of one device-hour at `utilisation` of TDP-hours: TDP x utilisation x PUE x price.
[[nodiscard]] UsdPerHour energy_per_hour(const AcceleratorSpec& hw, const Economics& economics,
                                         double utilisation);

constexpr double kHoursPerYear = 8766.0;  // 365.25 days

/// Cost of a device-hour on the economics' price basis. Owned cost = price x (1 + overhead)
/// over the depreciation period, plus TDP x PUE x electricity. nullopt when the catalog has
/// no price of that basis.
[[nodiscard]] std::optional<HourlyCost> hourly_cost(const AcceleratorSpec& hw,
                                                    const Economics& economics);

}  // namespace xpusim

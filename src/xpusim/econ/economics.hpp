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

struct Economics {
  double electricity_usd_per_kwh = 0.0;
  double pue = 1.0;
  double depreciation_years = 0.0;
  double server_overhead_fraction =
      0.0;  ///< non-accelerator capex per accelerator, as a share of its price
  PriceBasis price_basis = PriceBasis::kAuto;
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

/// Cost of a device-hour on the economics' price basis. Owned cost = price x (1 + overhead)
/// over the depreciation period, plus TDP x PUE x electricity. nullopt when the catalog has
/// no price of that basis.
[[nodiscard]] std::optional<HourlyCost> hourly_cost(const AcceleratorSpec& hw,
                                                    const Economics& economics);

}  // namespace xpusim

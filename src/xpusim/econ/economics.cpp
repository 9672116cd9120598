#include "xpusim/econ/economics.hpp"

#include "xpusim/core/yaml_map.hpp"

namespace xpusim {

namespace {

/// `{value, source, note}` with value in [low, high].
double read_setting(YamlMap& map, const std::string& key, double low, double high) {
  YamlMap figure = map.required_map(key);
  const double value = figure.required_number("value");
  if (value < low || value > high)
    figure.fail("value", "expected a value in [" + std::to_string(low) + ", " +
                             std::to_string(high) + "], got " + std::to_string(value));
  (void)figure.required_string("source");
  (void)figure.optional_string("note");
  figure.finish({"value", "source", "note"});
  return value;
}

}  // namespace

Economics load_economics(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  Economics e;
  e.electricity_usd_per_kwh = read_setting(root, "electricity_usd_per_kwh", 0.0, 10.0);
  e.pue = read_setting(root, "pue", 1.0, 3.0);
  e.depreciation_years = read_setting(root, "depreciation_years", 0.5, 20.0);
  e.server_overhead_fraction = read_setting(root, "server_overhead_fraction", 0.0, 10.0);
  root.finish({"electricity_usd_per_kwh", "pue", "depreciation_years", "server_overhead_fraction"});
  return e;
}

std::optional<PriceBasis> parse_price_basis(std::string_view name) {
  if (name == "auto") return PriceBasis::kAuto;
  if (name == "cloud") return PriceBasis::kCloud;
  if (name == "owned") return PriceBasis::kOwned;
  return std::nullopt;
}

std::optional<HourlyCost> hourly_cost(const AcceleratorSpec& hw, const Economics& e) {
  const bool cloud_allowed = e.price_basis != PriceBasis::kOwned;
  if (cloud_allowed && hw.cloud_price) return HourlyCost{hw.cloud_price->per_device, "cloud"};
  if (e.price_basis == PriceBasis::kCloud || !hw.purchase_price) return std::nullopt;
  constexpr double kHoursPerYear = 8766.0;  // 365.25 days
  const double capex_per_hour = hw.purchase_price->amount.value() *
                                (1.0 + e.server_overhead_fraction) /
                                (e.depreciation_years * kHoursPerYear);
  const double energy_per_hour = hw.tdp.value() / 1000.0 * e.pue * e.electricity_usd_per_kwh;
  return HourlyCost{UsdPerHour(capex_per_hour + energy_per_hour), "owned"};
}

}  // namespace xpusim

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

ChipProgram read_chip_program(YamlMap& root) {
  YamlMap map = root.required_map("chip_program");
  ChipProgram p;
  p.hardware_engineers = read_setting(map, "hardware_engineers", 0.0, 1e5);
  p.software_engineers = read_setting(map, "software_engineers", 0.0, 1e5);
  p.per_engineer_year = Usd(read_setting(map, "usd_per_engineer_year", 0.0, 1e7));
  p.eda_and_ip_per_year = Usd(read_setting(map, "eda_and_ip_usd_per_year", 0.0, 1e10));
  p.mask_set = Usd(read_setting(map, "mask_set_usd", 0.0, 1e10));
  p.generation_years = read_setting(map, "generation_years", 0.5, 10.0);
  p.lead_years = read_setting(map, "lead_years", 0.0, 20.0);
  p.software_efficiency = read_setting(map, "software_efficiency", 0.01, 1.0);
  map.finish({"hardware_engineers", "software_engineers", "usd_per_engineer_year",
              "eda_and_ip_usd_per_year", "mask_set_usd", "generation_years", "lead_years",
              "software_efficiency"});
  return p;
}

}  // namespace

Economics load_economics(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  Economics e;
  e.electricity_usd_per_kwh = read_setting(root, "electricity_usd_per_kwh", 0.0, 10.0);
  e.pue = read_setting(root, "pue", 1.0, 3.0);
  e.depreciation_years = read_setting(root, "depreciation_years", 0.5, 20.0);
  e.server_overhead_fraction = read_setting(root, "server_overhead_fraction", 0.0, 10.0);
  e.network_share_of_overhead = read_setting(root, "network_share_of_overhead", 0.0, 1.0);
  e.facility_usd_per_kw_month = read_setting(root, "facility_usd_per_kw_month", 0.0, 10000.0);
  e.operations_fraction_per_year = read_setting(root, "operations_fraction_per_year", 0.0, 1.0);
  e.utilisation = read_setting(root, "utilisation", 0.01, 1.0);
  e.chip_program = read_chip_program(root);
  root.finish({"electricity_usd_per_kwh", "pue", "depreciation_years", "server_overhead_fraction",
               "network_share_of_overhead", "facility_usd_per_kw_month",
               "operations_fraction_per_year", "utilisation", "chip_program"});
  return e;
}

std::optional<PriceBasis> parse_price_basis(std::string_view name) {
  if (name == "auto") return PriceBasis::kAuto;
  if (name == "cloud") return PriceBasis::kCloud;
  if (name == "owned") return PriceBasis::kOwned;
  return std::nullopt;
}

std::optional<Capex> device_capex(const AcceleratorSpec& hw, const Economics& e) {
  if (!hw.purchase_price) return std::nullopt;
  const Usd price = hw.purchase_price->amount;
  const Usd overhead = price * e.server_overhead_fraction;
  return Capex{price, overhead * (1.0 - e.network_share_of_overhead),
               overhead * e.network_share_of_overhead};
}

UsdPerHour energy_per_hour(const AcceleratorSpec& hw, const Economics& e, double utilisation) {
  return UsdPerHour(hw.tdp.value() / 1000.0 * utilisation * e.pue * e.electricity_usd_per_kwh);
}

std::optional<HourlyCost> hourly_cost(const AcceleratorSpec& hw, const Economics& e) {
  const bool cloud_allowed = e.price_basis != PriceBasis::kOwned;
  if (cloud_allowed && hw.cloud_price) return HourlyCost{hw.cloud_price->per_device, "cloud"};
  if (e.price_basis == PriceBasis::kCloud || !hw.purchase_price) return std::nullopt;
  // A busy device: capex over its depreciation period plus energy at TDP. `tco` adds facility
  // and operations and scales energy with utilisation.
  const double capex_per_hour =
      device_capex(hw, e)->total().value() / (e.depreciation_years * kHoursPerYear);
  return HourlyCost{UsdPerHour(capex_per_hour) + energy_per_hour(hw, e, 1.0), "owned"};
}

}  // namespace xpusim

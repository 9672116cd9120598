#include "xpusim/report/econ_report.hpp"

#include <fmt/format.h>

#include "xpusim/report/table.hpp"

namespace xpusim {

namespace {

template <class T>
nlohmann::json optional_value(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_same_v<T, double>)
    return *v;
  else
    return v->value();
}

std::string money(double usd) {
  if (std::abs(usd) >= 1e9) return fmt::format("{:.2f} B", usd / 1e9);
  if (std::abs(usd) >= 1e6) return fmt::format("{:.2f} M", usd / 1e6);
  return fmt::format("{:.0f}", usd);
}

std::string assumptions_text(const Economics& e) {
  const ChipProgram& p = e.chip_program;
  Table t({"assumption (data/economics.yaml)", "value"});
  t.add_row({"electricity_usd_per_kwh", fmt::format("{}", e.electricity_usd_per_kwh)});
  t.add_row({"pue", fmt::format("{}", e.pue)});
  t.add_row({"depreciation_years (straight line)", fmt::format("{}", e.depreciation_years)});
  t.add_row({"server_overhead_fraction", fmt::format("{}", e.server_overhead_fraction)});
  t.add_row({"network_share_of_overhead", fmt::format("{}", e.network_share_of_overhead)});
  t.add_row({"facility_usd_per_kw_month", fmt::format("{}", e.facility_usd_per_kw_month)});
  t.add_row({"operations_fraction_per_year", fmt::format("{}", e.operations_fraction_per_year)});
  t.add_row({"chip_program.hardware_engineers", fmt::format("{}", p.hardware_engineers)});
  t.add_row({"chip_program.software_engineers", fmt::format("{}", p.software_engineers)});
  t.add_row({"chip_program.usd_per_engineer_year", money(p.per_engineer_year.value())});
  t.add_row({"chip_program.eda_and_ip_usd_per_year", money(p.eda_and_ip_per_year.value())});
  t.add_row({"chip_program.mask_set_usd", money(p.mask_set.value())});
  t.add_row({"chip_program.generation_years", fmt::format("{}", p.generation_years)});
  t.add_row({"chip_program.lead_years", fmt::format("{}", p.lead_years)});
  t.add_row({"chip_program.software_efficiency", fmt::format("{}", p.software_efficiency)});
  return t.to_text();
}

std::string price_text(const AcceleratorSpec& hw) {
  std::string s = hw.purchase_price
                      ? fmt::format("purchase ${:.0f} ({}, {})", hw.purchase_price->amount.value(),
                                    hw.purchase_price->kind, hw.purchase_price->date)
                      : "no purchase price";
  if (hw.cloud_price)
    s += fmt::format(", cloud ${:.3f}/device-h ({})", hw.cloud_price->per_device.value(),
                     hw.cloud_price->date);
  return s;
}

}  // namespace

nlohmann::json economics_json(const Economics& e) {
  const ChipProgram& p = e.chip_program;
  return {{"electricity_usd_per_kwh", e.electricity_usd_per_kwh},
          {"pue", e.pue},
          {"depreciation_years", e.depreciation_years},
          {"server_overhead_fraction", e.server_overhead_fraction},
          {"network_share_of_overhead", e.network_share_of_overhead},
          {"facility_usd_per_kw_month", e.facility_usd_per_kw_month},
          {"operations_fraction_per_year", e.operations_fraction_per_year},
          {"utilisation_default", e.utilisation},
          {"chip_program",
           {{"hardware_engineers", p.hardware_engineers},
            {"software_engineers", p.software_engineers},
            {"usd_per_engineer_year", p.per_engineer_year.value()},
            {"eda_and_ip_usd_per_year", p.eda_and_ip_per_year.value()},
            {"mask_set_usd", p.mask_set.value()},
            {"generation_years", p.generation_years},
            {"lead_years", p.lead_years},
            {"software_efficiency", p.software_efficiency},
            {"usd_per_year", p.per_year().value()}}}};
}

nlohmann::json tco_json(const AcceleratorSpec& hw, const Economics& e, const TcoRequest& r,
                        const TcoResult& t) {
  nlohmann::json years = nlohmann::json::array();
  for (const TcoYear& y : t.years)
    years.push_back({{"year", y.year},
                     {"owned_cumulative_usd", y.owned_cumulative.value()},
                     {"cloud_cumulative_usd", optional_value(y.cloud_cumulative)}});
  return {{"hw", hw.id},
          {"devices", r.devices},
          {"utilisation", r.utilisation},
          {"tokens_per_s_per_device", optional_value(r.tokens_per_s_per_device)},
          {"run_tokens", optional_value(r.run_tokens)},
          {"purchase_usd", hw.purchase_price->amount.value()},
          {"cloud_usd_per_device_hour", optional_value(t.cloud_price)},
          {"capex_per_device_usd",
           {{"accelerator", t.capex.accelerator.value()},
            {"server", t.capex.server.value()},
            {"network", t.capex.network.value()},
            {"total", t.capex.total().value()}}},
          {"owned_per_device_year_usd",
           {{"depreciation", t.owned.depreciation.value()},
            {"energy", t.owned.energy.value()},
            {"facility", t.owned.facility.value()},
            {"operations", t.owned.operations.value()},
            {"total", t.owned.total().value()}}},
          {"used_hours_per_year", t.used_hours_per_year},
          {"owned_usd_per_used_hour", t.owned_per_used_hour.value()},
          {"cloud_per_device_year_usd", optional_value(t.cloud_per_device_year)},
          {"fleet_owned_per_year_usd", t.owned_per_device_year.value() * r.devices},
          {"fleet_cloud_per_year_usd",
           t.cloud_per_device_year ? nlohmann::json(t.cloud_per_device_year->value() * r.devices)
                                   : nlohmann::json(nullptr)},
          {"owned_usd_per_million_tokens", optional_value(t.owned_usd_per_million_tokens)},
          {"cloud_usd_per_million_tokens", optional_value(t.cloud_usd_per_million_tokens)},
          {"run_owned_usd", optional_value(t.owned_run)},
          {"run_cloud_usd", optional_value(t.cloud_run)},
          {"run_wall_time_s", optional_value(t.run_wall_time)},
          {"years", years},
          {"assumptions", economics_json(e)}};
}

std::string tco_text(const AcceleratorSpec& hw, const Economics& e, const TcoRequest& r,
                     const TcoResult& t) {
  std::string out = fmt::format("{} x {} ({}), utilisation {:.2f}\n\n", r.devices, hw.id,
                                price_text(hw), r.utilisation);
  Table per({"per device", "USD"});
  per.add_row({"capex: accelerator", money(t.capex.accelerator.value())});
  per.add_row({"capex: server", money(t.capex.server.value())});
  per.add_row({"capex: network", money(t.capex.network.value())});
  per.add_row({fmt::format("per year: depreciation ({} y)", e.depreciation_years),
               money(t.owned.depreciation.value())});
  per.add_row({"per year: energy", money(t.owned.energy.value())});
  per.add_row({"per year: facility", money(t.owned.facility.value())});
  per.add_row({"per year: operations", money(t.owned.operations.value())});
  per.add_row({"per year: owned total", money(t.owned.total().value())});
  per.add_row({"per used hour: owned", fmt::format("{:.3f}", t.owned_per_used_hour.value())});
  if (t.cloud_per_device_year) {
    per.add_row({"per year: cloud (used hours)", money(t.cloud_per_device_year->value())});
    per.add_row({"per used hour: cloud", fmt::format("{:.3f}", t.cloud_price->value())});
  }
  if (t.owned_usd_per_million_tokens) {
    per.add_row({"per 1M tokens: owned", fmt::format("{:.4f}", *t.owned_usd_per_million_tokens)});
    if (t.cloud_usd_per_million_tokens)
      per.add_row({"per 1M tokens: cloud", fmt::format("{:.4f}", *t.cloud_usd_per_million_tokens)});
  }
  out += per.to_text() + "\n";
  if (t.owned_run) {
    out += fmt::format("run of {:.3g} tokens on {} devices: {:.1f} days, owned ${}", *r.run_tokens,
                       r.devices, t.run_wall_time->value() / 86400.0, money(t.owned_run->value()));
    if (t.cloud_run) out += fmt::format(", cloud ${}", money(t.cloud_run->value()));
    out += "\n\n";
  }
  Table years({"year", "owned cumulative (fleet)", "cloud cumulative (fleet)"});
  for (const TcoYear& y : t.years)
    years.add_row({std::to_string(y.year), money(y.owned_cumulative.value()),
                   y.cloud_cumulative ? money(y.cloud_cumulative->value()) : "-"});
  return out + years.to_text() + "\n" + assumptions_text(e);
}

nlohmann::json build_vs_buy_json(const AcceleratorSpec& in_house, const AcceleratorSpec& bought,
                                 const Economics& e, const BuildVsBuyRequest& r,
                                 const BuildVsBuyResult& b) {
  nlohmann::json sweep = nlohmann::json::array();
  for (const BreakEvenPoint& p : b.sweep)
    sweep.push_back({{"software_efficiency", p.software_efficiency},
                     {"break_even_fleet_devices", optional_value(p.fleet_devices)}});
  nlohmann::json years = nlohmann::json::array();
  for (const BuildVsBuyYear& y : b.years)
    years.push_back({{"year", y.year},
                     {"build_cumulative_usd", y.build_cumulative.value()},
                     {"buy_cumulative_usd", y.buy_cumulative.value()}});
  return {{"in_house", in_house.id},
          {"in_house_unit_cost_usd", in_house.purchase_price->amount.value()},
          {"bought", bought.id},
          {"buy_basis", r.buy == BuyBasis::kOwned ? "owned" : "cloud"},
          {"utilisation", r.utilisation},
          {"workload_tokens_per_s", r.workload_tokens_per_s},
          {"in_house_tokens_per_s_modelled", r.in_house_tokens_per_s},
          {"in_house_tokens_per_s_effective", b.effective_in_house_tokens_per_s},
          {"bought_tokens_per_s", r.bought_tokens_per_s},
          {"program_usd_per_year", b.program_per_year.value()},
          {"bought_devices", b.bought_devices},
          {"in_house_devices", b.in_house_devices},
          {"bought_per_device_year_usd", b.bought_per_device_year.value()},
          {"in_house_per_device_year_usd", b.in_house_per_device_year.value()},
          {"buy_per_year_usd", b.buy_per_year.value()},
          {"build_per_year_usd", b.build_per_year.value()},
          {"saving_per_year_usd", b.saving_per_year.value()},
          {"break_even_fleet_devices", optional_value(b.break_even_fleet_devices)},
          {"break_even_year", optional_value(b.break_even_year)},
          {"software_efficiency_sweep", sweep},
          {"years", years},
          {"assumptions", economics_json(e)}};
}

std::string build_vs_buy_text(const AcceleratorSpec& in_house, const AcceleratorSpec& bought,
                              const Economics& e, const BuildVsBuyRequest& r,
                              const BuildVsBuyResult& b) {
  std::string out = fmt::format(
      "build {} ({}) against {} {} ({}), workload {:.4g} tokens/s at utilisation {:.2f}\n\n",
      in_house.id, price_text(in_house), r.buy == BuyBasis::kOwned ? "buying" : "renting",
      bought.id, price_text(bought), r.workload_tokens_per_s, r.utilisation);
  Table t({"", "build", "buy"});
  t.add_row({"tokens/s per device",
             fmt::format("{:.1f} ({:.1f} x software {:.2f})", b.effective_in_house_tokens_per_s,
                         r.in_house_tokens_per_s, e.chip_program.software_efficiency),
             fmt::format("{:.1f}", r.bought_tokens_per_s)});
  t.add_row({"devices", fmt::format("{:.0f}", b.in_house_devices),
             fmt::format("{:.0f}", b.bought_devices)});
  t.add_row({"USD per device-year", money(b.in_house_per_device_year.value()),
             money(b.bought_per_device_year.value())});
  t.add_row({"fleet USD per year", money((b.build_per_year - b.program_per_year).value()),
             money(b.buy_per_year.value())});
  t.add_row({"chip program USD per year", money(b.program_per_year.value()), "-"});
  t.add_row({"total USD per year (in service)", money(b.build_per_year.value()),
             money(b.buy_per_year.value())});
  out += t.to_text() + "\n";
  out += b.break_even_fleet_devices
             ? fmt::format(
                   "break-even fleet: {:.0f} {} devices (the program pays for itself "
                   "per year above it)\n",
                   *b.break_even_fleet_devices, bought.id)
             : "break-even fleet: none (the in-house device costs more per unit of work)\n";
  out += b.break_even_year
             ? fmt::format(
                   "break-even year: {:.1f} years after program start (chips in service "
                   "after {} years)\n\n",
                   *b.break_even_year, e.chip_program.lead_years)
             : fmt::format("break-even year: not within {} years\n\n", r.years);
  Table sweep({"software efficiency", "break-even fleet (bought devices)"});
  for (const BreakEvenPoint& p : b.sweep)
    sweep.add_row({fmt::format("{:.2f}", p.software_efficiency),
                   p.fleet_devices ? fmt::format("{:.0f}", *p.fleet_devices) : "never"});
  out += sweep.to_text() + "\n";
  Table years({"year", "build cumulative", "buy cumulative"});
  for (const BuildVsBuyYear& y : b.years)
    years.add_row({std::to_string(y.year), money(y.build_cumulative.value()),
                   money(y.buy_cumulative.value())});
  return out + years.to_text() + "\n" + assumptions_text(e);
}

}  // namespace xpusim

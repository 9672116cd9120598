#include "xpusim/econ/tco.hpp"

#include <fmt/format.h>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

constexpr double kMonthsPerYear = 12.0;

void check(const AcceleratorSpec& hw, const TcoRequest& r) {
  const std::string where = hw.file.empty() ? hw.id : hw.file.string();
  if (r.devices < 1)
    throw_input_error("tco", "devices", fmt::format("expected at least 1, got {}", r.devices));
  if (!(r.utilisation > 0.0 && r.utilisation <= 1.0))
    throw_input_error("tco", "utilisation",
                      fmt::format("expected a share in (0, 1], got {}", r.utilisation));
  if (r.years < 1 || r.years > 50)
    throw_input_error("tco", "years", fmt::format("expected 1 to 50, got {}", r.years));
  if (r.tokens_per_s_per_device && !(*r.tokens_per_s_per_device > 0.0))
    throw_input_error("tco", "tokens_per_s_per_device",
                      fmt::format("expected > 0, got {}", *r.tokens_per_s_per_device));
  if (r.run_tokens && !r.tokens_per_s_per_device)
    throw_input_error("tco", "run_tokens", "needs a throughput (tokens_per_s_per_device)");
  if (!hw.purchase_price)
    throw_input_error(where, "price.purchase_usd",
                      "missing (owning a device needs its purchase price)");
}

double per_million(Usd per_year, double tokens_per_year) {
  return per_year.value() / tokens_per_year * 1e6;
}

}  // namespace

std::optional<OwnedYear> owned_cost_per_year(const AcceleratorSpec& hw, const Economics& e,
                                             double utilisation) {
  const auto capex = device_capex(hw, e);
  if (!capex) return std::nullopt;
  OwnedYear y;
  y.depreciation = capex->total() / e.depreciation_years;
  y.energy = energy_per_hour(hw, e, utilisation) * Seconds(kHoursPerYear * kSecondsPerHour);
  y.facility = Usd(hw.tdp.value() / 1000.0 * e.facility_usd_per_kw_month * kMonthsPerYear);
  y.operations = capex->total() * e.operations_fraction_per_year;
  return y;
}

TcoResult total_cost_of_ownership(const AcceleratorSpec& hw, const Economics& e,
                                  const TcoRequest& r) {
  check(hw, r);
  TcoResult t;
  t.capex = *device_capex(hw, e);
  t.owned = *owned_cost_per_year(hw, e, r.utilisation);
  t.used_hours_per_year = kHoursPerYear * r.utilisation;
  t.owned_per_device_year = t.owned.total();
  t.owned_per_used_hour = UsdPerHour(t.owned_per_device_year.value() / t.used_hours_per_year);
  if (hw.cloud_price) {
    t.cloud_price = hw.cloud_price->per_device;
    // Renting is billed for the hours used: on demand, nothing is paid for idle capacity.
    t.cloud_per_device_year = Usd(t.cloud_price->value() * t.used_hours_per_year);
  }
  if (r.tokens_per_s_per_device) {
    const double tokens_per_year =
        *r.tokens_per_s_per_device * t.used_hours_per_year * kSecondsPerHour;
    t.owned_usd_per_million_tokens = per_million(t.owned_per_device_year, tokens_per_year);
    if (t.cloud_per_device_year)
      t.cloud_usd_per_million_tokens = per_million(*t.cloud_per_device_year, tokens_per_year);
    if (r.run_tokens) {
      t.owned_run = Usd(*t.owned_usd_per_million_tokens * *r.run_tokens / 1e6);
      if (t.cloud_usd_per_million_tokens)
        t.cloud_run = Usd(*t.cloud_usd_per_million_tokens * *r.run_tokens / 1e6);
      t.run_wall_time =
          Seconds(*r.run_tokens / (*r.tokens_per_s_per_device * r.devices * r.utilisation));
    }
  }
  const Usd running = t.owned.energy + t.owned.facility + t.owned.operations;
  for (int year = 1; year <= r.years; ++year) {
    TcoYear row;
    row.year = year;
    row.owned_cumulative = (t.capex.total() + running * year) * r.devices;
    if (t.cloud_per_device_year)
      row.cloud_cumulative = *t.cloud_per_device_year * (year * r.devices);
    t.years.push_back(row);
  }
  return t;
}

}  // namespace xpusim

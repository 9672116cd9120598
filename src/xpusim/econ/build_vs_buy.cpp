#include "xpusim/econ/build_vs_buy.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

void check(const BuildVsBuyRequest& r) {
  auto positive = [](const char* key, double v) {
    if (!(v > 0.0)) throw_input_error("build-vs-buy", key, fmt::format("expected > 0, got {}", v));
  };
  positive("in_house_tokens_per_s", r.in_house_tokens_per_s);
  positive("bought_tokens_per_s", r.bought_tokens_per_s);
  positive("workload_tokens_per_s", r.workload_tokens_per_s);
  if (!(r.utilisation > 0.0 && r.utilisation <= 1.0))
    throw_input_error("build-vs-buy", "utilisation",
                      fmt::format("expected a share in (0, 1], got {}", r.utilisation));
  if (r.years < 1 || r.years > 50)
    throw_input_error("build-vs-buy", "years", fmt::format("expected 1 to 50, got {}", r.years));
  for (double e : r.efficiency_sweep) {
    if (!(e > 0.0 && e <= 1.0))
      throw_input_error("build-vs-buy", "efficiency_sweep",
                        fmt::format("expected shares in (0, 1], got {}", e));
  }
}

std::string where(const AcceleratorSpec& hw) {
  return hw.file.empty() ? hw.id : hw.file.string();
}

Usd owned_year(const AcceleratorSpec& hw, const Economics& e, double utilisation) {
  const auto year = owned_cost_per_year(hw, e, utilisation);
  if (!year)
    throw_input_error(where(hw), "price.purchase_usd",
                      "missing (owning a device needs its purchase price)");
  return year->total();
}

Usd bought_year(const AcceleratorSpec& hw, const Economics& e, const BuildVsBuyRequest& r) {
  switch (r.buy) {
    case BuyBasis::kOwned:
      return owned_year(hw, e, r.utilisation);
    case BuyBasis::kCloud:
      if (!hw.cloud_price)
        throw_input_error(where(hw), "price.cloud_usd_per_hour",
                          "missing (renting needs an on-demand price)");
      return Usd(hw.cloud_price->per_device.value() * kHoursPerYear * r.utilisation);
  }
  return Usd(0.0);
}

/// Build minus buy, cumulative to `t` years from program start: the program every year, the
/// saving only once the chip is in service.
double build_minus_buy(double t, double program, double saving, double lead) {
  return program * t - saving * std::max(0.0, t - lead);
}

}  // namespace

std::optional<double> break_even_fleet(Usd program_per_year, Usd bought_per_device_year,
                                       Usd in_house_per_device_year, double bought_tokens_per_s,
                                       double effective_in_house_tokens_per_s) {
  // One bought device's work takes bought/in-house rate devices of our own.
  const double ratio = bought_tokens_per_s / effective_in_house_tokens_per_s;
  const Usd saving_per_bought_device = bought_per_device_year - in_house_per_device_year * ratio;
  if (saving_per_bought_device.value() <= 0.0) return std::nullopt;
  return program_per_year / saving_per_bought_device;
}

BuildVsBuyResult build_vs_buy(const AcceleratorSpec& in_house, const AcceleratorSpec& bought,
                              const Economics& e, const BuildVsBuyRequest& r) {
  check(r);
  const ChipProgram& program = e.chip_program;
  BuildVsBuyResult out;
  out.program_per_year = program.per_year();
  out.effective_in_house_tokens_per_s = r.in_house_tokens_per_s * program.software_efficiency;
  out.bought_devices = r.workload_tokens_per_s / (r.bought_tokens_per_s * r.utilisation);
  out.in_house_devices =
      r.workload_tokens_per_s / (out.effective_in_house_tokens_per_s * r.utilisation);
  out.bought_per_device_year = bought_year(bought, e, r);
  out.in_house_per_device_year = owned_year(in_house, e, r.utilisation);
  out.buy_per_year = out.bought_per_device_year * out.bought_devices;
  const Usd in_house_fleet = out.in_house_per_device_year * out.in_house_devices;
  out.build_per_year = in_house_fleet + out.program_per_year;
  out.saving_per_year = out.buy_per_year - in_house_fleet;
  out.break_even_fleet_devices = break_even_fleet(
      out.program_per_year, out.bought_per_device_year, out.in_house_per_device_year,
      r.bought_tokens_per_s, out.effective_in_house_tokens_per_s);
  const double p = out.program_per_year.value(), s = out.saving_per_year.value();
  const double lead = program.lead_years;
  if (s > p) {
    const double year = s * lead / (s - p);
    if (year <= r.years) out.break_even_year = year;
  }
  for (double efficiency : r.efficiency_sweep) {
    out.sweep.push_back(BreakEvenPoint{
        efficiency, break_even_fleet(out.program_per_year, out.bought_per_device_year,
                                     out.in_house_per_device_year, r.bought_tokens_per_s,
                                     r.in_house_tokens_per_s * efficiency)});
  }
  for (int year = 1; year <= r.years; ++year) {
    const double buy = out.buy_per_year.value() * year;
    out.years.push_back(
        BuildVsBuyYear{year, Usd(buy + build_minus_buy(year, p, s, lead)), Usd(buy)});
  }
  return out;
}

}  // namespace xpusim

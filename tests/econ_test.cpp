// Cost of ownership and build versus buy: arithmetic and invariants.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/build_vs_buy.hpp"
#include "xpusim/econ/tco.hpp"

namespace xpusim {
namespace {

Economics economics() {
  return load_economics(testing::data_dir() / "economics.yaml");
}

TcoRequest request(double utilisation) {
  TcoRequest r;
  r.devices = 8;
  r.utilisation = utilisation;
  r.tokens_per_s_per_device = 1000.0;
  r.run_tokens = 1e12;
  return r;
}

TEST(Economics, WorkedChipProgramCostsAboutOneHundredMillionAYear) {
  const ChipProgram p = economics().chip_program;
  EXPECT_NEAR(p.per_year().value(), 100e6, 5e6);
}

TEST(Tco, LinesFollowTheirFormulas) {
  const Economics e = economics();
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  const TcoResult t = total_cost_of_ownership(h100, e, request(0.5));
  const double price = h100.purchase_price->amount.value();
  EXPECT_NEAR(t.capex.total().value(), price * (1.0 + e.server_overhead_fraction), 1e-6);
  EXPECT_NEAR(t.capex.network.value(),
              price * e.server_overhead_fraction * e.network_share_of_overhead, 1e-6);
  EXPECT_NEAR(t.owned.depreciation.value(), t.capex.total().value() / e.depreciation_years, 1e-6);
  EXPECT_NEAR(t.owned.energy.value(), 0.7 * 0.5 * e.pue * e.electricity_usd_per_kwh * kHoursPerYear,
              1e-6);
  EXPECT_NEAR(t.owned.facility.value(), 0.7 * e.facility_usd_per_kw_month * 12.0, 1e-6);
  EXPECT_NEAR(t.cloud_per_device_year->value(),
              h100.cloud_price->per_device.value() * kHoursPerYear * 0.5, 1e-6);
  const double tokens_per_year = 1000.0 * kHoursPerYear * 0.5 * 3600.0;
  EXPECT_NEAR(*t.owned_usd_per_million_tokens, t.owned.total().value() / tokens_per_year * 1e6,
              1e-9);
  EXPECT_NEAR(t.owned_run->value(), *t.owned_usd_per_million_tokens * 1e6, 1e-3);
  EXPECT_NEAR(t.run_wall_time->value(), 1e12 / (1000.0 * 8 * 0.5), 1e-3);
  ASSERT_EQ(t.years.size(), 5u);
  EXPECT_NEAR(
      t.years[0].owned_cumulative.value(),
      8 * (t.capex.total() + t.owned.energy + t.owned.facility + t.owned.operations).value(), 1e-6);
}

TEST(Tco, HourlyCostIsCapexOverDepreciationPlusEnergyAtTdp) {
  Economics e = economics();
  e.price_basis = PriceBasis::kOwned;
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  const auto hourly = hourly_cost(h100, e);
  const double expected =
      device_capex(h100, e)->total().value() / (e.depreciation_years * kHoursPerYear) +
      energy_per_hour(h100, e, 1.0).value();
  EXPECT_NEAR(hourly->per_device.value(), expected, 1e-12);
}

TEST(Tco, MoreUtilisationNeverRaisesCostPerToken) {
  const Economics e = economics();
  for (const char* id : {"h100-sxm", "a100-sxm-80gb", "mi300x", "b200"}) {
    const AcceleratorSpec hw = testing::hw(id);
    if (!hw.purchase_price) continue;
    double owned = 1e300, cloud = 1e300;
    for (double u = 0.05; u <= 1.0 + 1e-9; u += 0.05) {
      const TcoResult t = total_cost_of_ownership(hw, e, request(std::min(u, 1.0)));
      EXPECT_LE(*t.owned_usd_per_million_tokens, owned * (1 + 1e-12)) << id << " " << u;
      owned = *t.owned_usd_per_million_tokens;
      if (t.cloud_usd_per_million_tokens) {
        EXPECT_LE(*t.cloud_usd_per_million_tokens, cloud * (1 + 1e-12)) << id << " " << u;
        cloud = *t.cloud_usd_per_million_tokens;
      }
    }
  }
}

TEST(Tco, NoPurchasePriceIsAnErrorNamingTheField) {
  const AcceleratorSpec maia = testing::hw("maia100");
  try {
    (void)total_cost_of_ownership(maia, economics(), request(0.5));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), maia.file.string() +
                                         ": price.purchase_usd: missing (owning a device needs "
                                         "its purchase price)");
  }
}

AcceleratorSpec in_house_chip() {
  AcceleratorSpec chip = testing::hw("maia100");
  chip.purchase_price = PurchasePrice{Usd(3200.0), "street_estimate", "2023"};
  return chip;
}

BuildVsBuyRequest bvb_request() {
  BuildVsBuyRequest r;
  r.in_house_tokens_per_s = 800.0;
  r.bought_tokens_per_s = 1000.0;
  r.workload_tokens_per_s = 1e7;
  r.utilisation = 0.7;
  return r;
}

TEST(BuildVsBuy, BreakEvenFleetIsProgramOverSavingPerBoughtDevice) {
  const Economics e = economics();
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  const BuildVsBuyResult r = build_vs_buy(in_house_chip(), h100, e, bvb_request());
  const double ratio = 1000.0 / (800.0 * e.chip_program.software_efficiency);
  const double saving =
      r.bought_per_device_year.value() - r.in_house_per_device_year.value() * ratio;
  ASSERT_TRUE(r.break_even_fleet_devices);
  EXPECT_NEAR(*r.break_even_fleet_devices, r.program_per_year.value() / saving, 1e-6);
  EXPECT_NEAR(r.bought_devices, 1e7 / (1000.0 * 0.7), 1e-9);
  EXPECT_NEAR(r.in_house_devices, 1e7 / (800.0 * e.chip_program.software_efficiency * 0.7), 1e-9);
  // At the break-even fleet, building and buying cost the same per year.
  BuildVsBuyRequest at = bvb_request();
  at.workload_tokens_per_s = *r.break_even_fleet_devices * 1000.0 * 0.7;
  const BuildVsBuyResult even = build_vs_buy(in_house_chip(), h100, e, at);
  EXPECT_NEAR(even.build_per_year.value(), even.buy_per_year.value(),
              1e-6 * even.buy_per_year.value());
}

TEST(BuildVsBuy, HigherProgramCostNeverLowersTheBreakEvenFleet) {
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  Economics e = economics();
  double previous = 0.0;
  for (double engineers = 0; engineers <= 2000; engineers += 100) {
    e.chip_program.hardware_engineers = engineers;
    const BuildVsBuyResult r = build_vs_buy(in_house_chip(), h100, e, bvb_request());
    ASSERT_TRUE(r.break_even_fleet_devices);
    EXPECT_GE(*r.break_even_fleet_devices, previous);
    previous = *r.break_even_fleet_devices;
  }
}

TEST(BuildVsBuy, BetterSoftwareNeverRaisesTheBreakEvenFleet) {
  const BuildVsBuyResult r =
      build_vs_buy(in_house_chip(), testing::hw("h100-sxm"), economics(), bvb_request());
  double previous = 1e300;
  for (const BreakEvenPoint& p : r.sweep) {  // efficiencies in increasing order
    const double fleet = p.fleet_devices.value_or(1e300);
    EXPECT_LE(fleet, previous) << p.software_efficiency;
    previous = fleet;
  }
}

TEST(BuildVsBuy, BreakEvenYearIsWhereTheCumulativeCostsCross) {
  const Economics e = economics();
  BuildVsBuyRequest req = bvb_request();
  req.workload_tokens_per_s = 1e8;  // a fleet far past break-even
  req.years = 20;
  const BuildVsBuyResult r = build_vs_buy(in_house_chip(), testing::hw("h100-sxm"), e, req);
  ASSERT_TRUE(r.break_even_year);
  EXPECT_GT(*r.break_even_year, e.chip_program.lead_years);
  for (const BuildVsBuyYear& y : r.years) {
    if (y.year < *r.break_even_year - 1e-9) {
      EXPECT_GT(y.build_cumulative, y.buy_cumulative) << y.year;
    } else if (y.year > *r.break_even_year + 1e-9) {
      EXPECT_LT(y.build_cumulative, y.buy_cumulative) << y.year;
    }
  }
}

TEST(BuildVsBuy, ANoWorseBoughtChipNeverBreaksEven) {
  // An in-house chip that costs more per unit of work than the bought one never pays back.
  AcceleratorSpec chip = in_house_chip();
  chip.purchase_price->amount = Usd(1e6);
  const BuildVsBuyResult r =
      build_vs_buy(chip, testing::hw("h100-sxm"), economics(), bvb_request());
  EXPECT_FALSE(r.break_even_fleet_devices);
  EXPECT_FALSE(r.break_even_year);
}

TEST(EconCli, TcoJsonCarriesEveryLineAndItsAssumptions) {
  const auto r = testing::run_xpusim(
      "tco --hw h100-sxm --devices 8 --tokens-per-s 1000 --run-tokens 1e12 --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& owned = j["owned_per_device_year_usd"];
  EXPECT_NEAR(owned["total"].get<double>(),
              owned["depreciation"].get<double>() + owned["energy"].get<double>() +
                  owned["facility"].get<double>() + owned["operations"].get<double>(),
              1e-6);
  EXPECT_EQ(j["years"].size(), 5u);
  EXPECT_EQ(j["assumptions"]["pue"].get<double>(), economics().pue);
  EXPECT_GT(j["run_cloud_usd"].get<double>(), 0.0);
}

TEST(EconCli, BuildVsBuyFromAChipFileAndAServedModel) {
  const auto r = testing::run_xpusim(
      "build-vs-buy --chip " + (testing::data_dir() / "chips" / "maia100.yaml").string() +
      " --buy a100-sxm-80gb --model llama-2-70b --tp 4 --workload-devices 20000 --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["in_house"], "maia100-derived");
  EXPECT_NEAR(j["bought_devices"].get<double>(), 20000.0, 1e-6);
  EXPECT_NEAR(j["program_usd_per_year"].get<double>(), 100e6, 5e6);
  EXPECT_TRUE(j["break_even_fleet_devices"].is_number());
  EXPECT_EQ(j["software_efficiency_sweep"].size(), 5u);
}

TEST(EconCli, ChipDeriveWritesAnEntryEveryHwFlagAccepts) {
  testing::ScratchDir scratch;
  const auto entry = scratch.path() / "maia100-derived.yaml";
  const auto derive = testing::run_xpusim(
      "chip derive " + (testing::data_dir() / "chips" / "maia100.yaml").string() + " --out " +
      entry.string() + " --format json");
  ASSERT_EQ(derive.status, 0) << derive.err;
  const auto j = nlohmann::json::parse(derive.out);
  EXPECT_GT(j["unit_cost"]["unit_cost_usd"].get<double>(), 1000.0);
  const auto infer = testing::run_xpusim("infer --model llama-3.1-8b --hw " + entry.string());
  EXPECT_EQ(infer.status, 0) << infer.err;
  const auto tco = testing::run_xpusim("tco --hw " + entry.string());
  EXPECT_EQ(tco.status, 0) << tco.err;
}

TEST(EconCli, BadChipFileIsOneLineAndExitTwo) {
  testing::ScratchDir scratch;
  const auto bad = scratch.path() / "bad.yaml";
  testing::write_text(bad, "id: x\n");
  const auto r = testing::run_xpusim("chip derive " + bad.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "xpusim: " + bad.string() + ": name: missing (required)\n");
}

}  // namespace
}  // namespace xpusim

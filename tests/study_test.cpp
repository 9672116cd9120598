// study/: compare's placement, normalisation and price basis; the continuous-batching steady
// state against the serving simulator; compare --train.

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/study/compare.hpp"
#include "xpusim/study/sensitivity.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {
namespace {

Economics economics() {
  return load_economics(testing::data_dir() / "economics.yaml");
}

/// The catalog's contenders; rows point into them, so they live as long as the tests.
const std::vector<Contender>& catalog_contenders() {
  static const std::vector<Contender> all =
      contenders_of(load_all_accelerators(testing::hardware_dir()),
                    load_all_systems(testing::data_dir() / "systems", testing::hardware_dir()));
  return all;
}

/// Some of them, kept alive (a table's rows point into its contenders).
const std::vector<Contender>& only(const std::vector<std::string>& ids) {
  static std::map<std::vector<std::string>, std::vector<Contender>> kept;
  auto& out = kept[ids];
  if (out.empty()) {
    for (const auto& c : catalog_contenders()) {
      if (std::find(ids.begin(), ids.end(), c.hw.id) != ids.end()) out.push_back(c);
    }
  }
  return out;
}

const CompareRow& row_of(const CompareTable& t, const std::string& id) {
  const auto it = std::find_if(t.rows.begin(), t.rows.end(),
                               [&](const CompareRow& r) { return r.hw->id == id; });
  EXPECT_NE(it, t.rows.end()) << id;
  return *it;
}

const CompareTable& default_table() {
  static const CompareTable table = compare_inference(
      testing::model("llama-2-70b"), catalog_contenders(), CompareOptions{}, economics());
  return table;
}

TEST(ComparePlacement, MaiaRunsOnItsFourDeviceNode) {
  const CompareRow& maia = row_of(default_table(), "maia100");
  ASSERT_TRUE(maia.state.has_value()) << maia.reason;
  EXPECT_EQ(maia.request.devices, 4);
  EXPECT_EQ(maia.placement, Placement::kSystemNode);
  EXPECT_EQ(maia.placed_by, "maia100-rack");
}

TEST(ComparePlacement, ChipsWithoutASystemTakeTheirScaleUpDomain) {
  const CompareRow& mi250x = row_of(default_table(), "mi250x");
  ASSERT_TRUE(mi250x.state.has_value()) << mi250x.reason;
  EXPECT_EQ(mi250x.placement, Placement::kScaleUpDomain);
  EXPECT_EQ(mi250x.request.devices, mi250x.hw->scale_up_domain_devices);
}

TEST(ComparePlacement, APodTooLargeForTensorParallelismFallsToTheFewestThatHoldIt) {
  // TPU v5e's domain is a 256-chip pod: no tensor-parallel group of 64 heads; 16 GB chips need
  // at least 9 for 70B bf16 weights, and 16 is the first divisor of 64 past that.
  const CompareRow& v5e = row_of(default_table(), "tpu-v5e");
  ASSERT_TRUE(v5e.state.has_value()) << v5e.reason;
  EXPECT_EQ(v5e.placement, Placement::kFewest);
  EXPECT_EQ(v5e.request.devices, 16);
}

TEST(ComparePlacement, EveryNamedChipOfTheRaceAppears) {
  for (const char* id : {"maia100", "tpu-v5p", "tpu-v6e", "trainium2", "gaudi3", "mi300x",
                         "h100-sxm", "h200-sxm", "b200"}) {
    const CompareRow& row = row_of(default_table(), id);
    EXPECT_TRUE(row.state.has_value()) << id << ": " << row.reason;
  }
  const CompareRow& mtia = row_of(default_table(), "mtia-v2");
  EXPECT_FALSE(mtia.reason.empty()) << "MTIA is in the table, runnable or with its reason";
}

TEST(ComparePlacement, GivenDevicesApplyToEveryChip) {
  CompareOptions o;
  o.devices = 8;
  const auto t = compare_inference(testing::model("llama-2-70b"), only({"h100-sxm", "maia100"}), o,
                                   economics());
  EXPECT_EQ(row_of(t, "h100-sxm").placement, Placement::kGiven);
  EXPECT_EQ(row_of(t, "h100-sxm").request.devices, 8);
  EXPECT_FALSE(row_of(t, "maia100").state.has_value()) << "8 exceeds Maia's 4-device domain";
}

TEST(CompareNormalisation, PerDeviceWattAndDollarHour) {
  int priced = 0;
  for (const auto& row : default_table().rows) {
    if (!row.state) continue;
    const double devices = row.request.devices;
    const double tps = row.state->tokens_per_s;
    const Normalised& n = row.normalised;
    EXPECT_NEAR(n.tokens_per_s_per_device, tps / devices, 1e-9 * tps) << row.hw->id;
    EXPECT_NEAR(n.tokens_per_s_per_watt, tps / (devices * row.hw->tdp.value()), 1e-12 * tps)
        << row.hw->id;
    EXPECT_NEAR(n.energy_per_token.value(), devices * row.hw->tdp.value() / tps, 1e-9)
        << row.hw->id;
    ASSERT_EQ(n.tokens_per_s_per_usd_per_hour.has_value(), row.price.per_device.has_value());
    if (!row.price.per_device) continue;
    ++priced;
    const double usd_per_hour = devices * row.price.per_device->value();
    EXPECT_NEAR(*n.tokens_per_s_per_usd_per_hour, tps / usd_per_hour, 1e-9 * tps);
    EXPECT_NEAR(*n.cost_per_million_tokens_usd, usd_per_hour / 3600 / tps * 1e6, 1e-9);
  }
  EXPECT_GT(priced, 0);
}

TEST(CompareNormalisation, RowsSortByThroughputPerDevice) {
  const auto& rows = default_table().rows;
  bool seen_unrunnable = false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].state) {
      seen_unrunnable = true;
      EXPECT_FALSE(rows[i].reason.empty()) << rows[i].hw->id;
      continue;
    }
    EXPECT_FALSE(seen_unrunnable) << "runnable rows come first";
    if (i > 0 && rows[i - 1].state) {
      EXPECT_GE(rows[i - 1].normalised.tokens_per_s_per_device,
                rows[i].normalised.tokens_per_s_per_device);
    }
  }
}

TEST(CompareLimits, TheBestConcurrencyMeetsThemAndOneMoreDoesNot) {
  const auto m = testing::model("llama-2-70b");
  const CompareOptions o;
  const CompareRow& h100 = row_of(default_table(), "h100-sxm");
  ASSERT_TRUE(h100.state.has_value());
  EXPECT_LE(h100.state->ttft, o.max_ttft);
  EXPECT_LE(h100.state->tpot, o.max_tpot);
  InferenceRequest more = h100.request;
  more.batch += 1;
  const SteadyState next = continuous_steady_state(m, *h100.hw, more, economics());
  const bool fits = max_batch_that_fits(m, *h100.hw, more) >= more.batch;
  EXPECT_TRUE(!fits || next.tpot > o.max_tpot || next.ttft > o.max_ttft);
}

// --- price basis -------------------------------------------------------------------------------

TEST(ComparePrice, CloudWhenEveryRowHasACloudPrice) {
  const auto t =
      compare_inference(testing::model("llama-2-70b"), only({"h100-sxm", "h200-sxm", "mi300x"}),
                        CompareOptions{}, economics());
  EXPECT_EQ(t.price.basis, PriceBasis::kCloud);
  for (const auto& row : t.rows) {
    ASSERT_TRUE(row.price.per_device.has_value()) << row.hw->id;
    EXPECT_DOUBLE_EQ(row.price.per_device->value(), row.hw->cloud_price->per_device.value());
  }
}

TEST(ComparePrice, OwnedWhenOneRowLacksACloudPriceAndNeverMixed) {
  const auto t =
      compare_inference(testing::model("llama-2-70b"), only({"h100-sxm", "gaudi3", "maia100"}),
                        CompareOptions{}, economics());
  EXPECT_EQ(t.price.basis, PriceBasis::kOwned);
  Economics owned = economics();
  owned.price_basis = PriceBasis::kOwned;
  for (const auto& row : t.rows) {
    const auto expected = hourly_cost(*row.hw, owned);
    ASSERT_EQ(row.price.per_device.has_value(), expected.has_value()) << row.hw->id;
    if (expected) {
      EXPECT_DOUBLE_EQ(row.price.per_device->value(), expected->per_device.value());
    }
  }
  EXPECT_EQ(t.price.unpriced, std::vector<std::string>{"maia100"});
}

TEST(ComparePrice, AGivenPriceCompletesTheCloudBasis) {
  CompareOptions o;
  o.price.given["maia100"] = UsdPerHour(5.0);
  const auto t = compare_inference(testing::model("llama-2-70b"), only({"h100-sxm", "maia100"}), o,
                                   economics());
  EXPECT_EQ(t.price.basis, PriceBasis::kCloud);
  EXPECT_EQ(t.price.given, std::vector<std::string>{"maia100"});
  const CompareRow& maia = row_of(t, "maia100");
  ASSERT_TRUE(maia.price.per_device.has_value());
  EXPECT_TRUE(maia.price.given);
  EXPECT_DOUBLE_EQ(maia.price.per_device->value(), 5.0);
}

TEST(ComparePrice, AGivenPriceForAChipNotCompared) {
  CompareOptions o;
  o.price.given["maia10"] = UsdPerHour(5.0);
  try {
    (void)compare_inference(testing::model("llama-2-70b"), only({"maia100"}), o, economics());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "compare options: price: no accelerator 'maia10' in the comparison (did you mean: "
              "maia100?)");
  }
}

// --- the steady state against the serving simulator --------------------------------------------

/// The simulator in closed loop with `concurrency` clients; output lengths spread so that
/// sequences finish at different times, as in the analytical steady state.
ServeResult simulate_closed_loop(const ModelSpec& m, const AcceleratorSpec& hw, int tp,
                                 int64_t concurrency, int64_t in, int64_t out_lo, int64_t out_hi) {
  ServeConfig c;
  c.model = m;
  c.hw = hw;
  c.economics = economics();
  c.tensor_parallel = tp;
  c.scheduler = SchedulerKind::kContinuous;
  c.limits.max_num_seqs = concurrency;
  c.limits.gpu_memory_utilization = 1.0;
  c.workload.arrival = ArrivalKind::kClosedLoop;
  c.workload.concurrency = concurrency;
  c.workload.num_requests = concurrency * 12;
  c.workload.input.kind = LengthDistribution::Kind::kFixed;
  c.workload.input.a = static_cast<double>(in);
  c.workload.output.kind = LengthDistribution::Kind::kUniform;
  c.workload.output.a = static_cast<double>(out_lo);
  c.workload.output.b = static_cast<double>(out_hi);
  c.workload.seed = 7;
  return simulate(c);
}

TEST(SteadyState, MatchesTheSimulatorInClosedLoop) {
  const auto m = testing::model("llama-2-7b");
  const auto hw = testing::hw("h100-sxm");
  InferenceRequest r;
  r.devices = 1;
  r.batch = 32;
  r.input_len = 512;
  r.output_len = 256;
  const SteadyState s = continuous_steady_state(m, hw, r, economics());
  const ServeResult sim = simulate_closed_loop(m, hw, 1, 32, 512, 128, 384);
  ASSERT_EQ(sim.preemptions, 0);
  EXPECT_NEAR(s.tokens_per_s / sim.throughput_tokens_per_s, 1.0, 0.10)
      << s.tokens_per_s << " vs " << sim.throughput_tokens_per_s;
  EXPECT_NEAR(s.tpot / sim.tpot.mean, 1.0, 0.15)
      << s.tpot.value() << " vs " << sim.tpot.mean.value();
}

TEST(SteadyState, ThroughputAndTpotGrowWithConcurrency) {
  const auto m = testing::model("llama-2-70b");
  const auto hw = testing::hw("h100-sxm");
  InferenceRequest r;
  r.devices = 8;
  r.input_len = 1024;
  r.output_len = 256;
  SteadyState last;
  for (int64_t b : {1, 4, 16, 64, 256}) {
    r.batch = b;
    const SteadyState s = continuous_steady_state(m, hw, r, economics());
    EXPECT_GT(s.tokens_per_s, last.tokens_per_s) << b;
    EXPECT_GT(s.tpot, last.tpot) << b;
    EXPECT_NEAR(s.cycle.value(),
                static_cast<double>(b) * s.prefill.value() + 255 * s.decode_step.value(), 1e-9);
    last = s;
  }
}

// --- training ----------------------------------------------------------------------------------

TEST(CompareTraining, EachChipOnNDevicesWithItsCostAndEnergy) {
  TrainCompareOptions o;
  o.devices = 16;
  o.tokens = 1e9;
  o.job.global_batch = 64;
  o.job.seq_len = 4096;
  o.search.micro_batches = {1, 2};
  o.search.max_virtual_stages = 1;
  o.search.max_context_parallel = 1;
  const auto t = compare_training(testing::model("llama-2-7b"),
                                  only({"h100-sxm", "maia100", "tpu-v5p"}), o, economics());
  ASSERT_EQ(t.rows.size(), 3u);
  for (const auto& row : t.rows) {
    ASSERT_TRUE(row.best.has_value()) << row.hw->id << ": " << row.reason;
    EXPECT_EQ(row.nodes * row.devices_per_node, 16) << row.hw->id;
    const TrainingResult& r = row.best->result;
    EXPECT_NEAR(row.budget.wall_time.value(), 1e9 / r.tokens_per_s,
                1e-6 * row.budget.wall_time.value());
    EXPECT_NEAR(row.tokens_per_s_per_watt, r.tokens_per_s / (16 * row.hw->tdp.value()), 1e-9);
    if (row.price.per_device) {
      ASSERT_TRUE(row.cost_usd.has_value());
      EXPECT_NEAR(*row.cost_usd, row.budget.device_hours * row.price.per_device->value(), 1e-6);
    }
  }
  EXPECT_LE(t.rows[0].budget.wall_time, t.rows[1].budget.wall_time) << "fastest first";
}

// --- sensitivity -------------------------------------------------------------------------------

Sensitivity infer_sensitivity(const std::string& model, const std::string& hw, int devices,
                              int64_t batch, int64_t in, int64_t out) {
  InferenceRequest r;
  r.devices = devices;
  r.batch = batch;
  r.input_len = in;
  r.output_len = out;
  return sensitivity(WorkloadKind::kInfer, single_chip_system(testing::hw(hw)),
                     infer_evaluation(testing::model(model), r, economics()));
}

const SensitivityRow& most_sensitive(const Sensitivity& s) {
  const SensitivityRow* best = &s.rows.front();
  for (const auto& row : s.rows) {
    if (row.modelled && row.time_change < best->time_change) best = &row;
  }
  return *best;
}

bool is_bandwidth_or_flops(ResourceKind kind) {
  return kind != ResourceKind::kMemoryCapacity && kind != ResourceKind::kOnchipSram;
}

/// More of a rate never slows, and time falls at most as fast as 1 / resource.
void expect_monotone(const Sensitivity& s) {
  const double fastest = 1.0 / (1.0 + s.step) - 1.0;
  for (const auto& row : s.rows) {
    if (!row.modelled || !row.changed.feasible) continue;
    if (is_bandwidth_or_flops(row.resource.kind)) {
      EXPECT_LE(row.time_change, 1e-12) << row.resource.name();
    }
    EXPECT_GE(row.time_change, fastest - 1e-9) << row.resource.name();
  }
}

TEST(Sensitivity, MemoryBoundDecodeIsMostSensitiveToMemoryBandwidth) {
  const Sensitivity s = infer_sensitivity("llama-2-7b", "h100-sxm", 1, 1, 128, 512);
  expect_monotone(s);
  EXPECT_EQ(most_sensitive(s).resource.kind, ResourceKind::kMemoryBandwidth);
  EXPECT_LT(most_sensitive(s).time_elasticity, -0.5);
}

TEST(Sensitivity, LargeBatchPrefillIsMostSensitiveToMatrixFlops) {
  const Sensitivity s = infer_sensitivity("llama-2-7b", "h100-sxm", 1, 16, 2048, 1);
  expect_monotone(s);
  const SensitivityRow& top = most_sensitive(s);
  EXPECT_EQ(top.resource.kind, ResourceKind::kMatrixFlops);
  EXPECT_EQ(top.resource.dtype, DType::kBf16);
}

TEST(Sensitivity, TrainingAndServingNeverSlowWithMoreBandwidth) {
  const auto system = with_nodes(
      load_system("dgx-h100-superpod", testing::data_dir() / "systems", testing::hardware_dir()),
      2);
  TrainingJob job;
  job.global_batch = 64;
  job.seq_len = 4096;
  ParallelPlan plan;
  plan.tp = 2;
  plan.dp = 8;
  plan.zero_stage = 1;
  const auto train =
      sensitivity(WorkloadKind::kTrain, system,
                  train_evaluation(testing::model("llama-2-7b"), job, plan, 0.0, economics()));
  expect_monotone(train);

  ServeConfig c;
  c.model = testing::model("llama-2-7b");
  c.hw = testing::hw("h100-sxm");
  c.economics = economics();
  c.workload.arrival = ArrivalKind::kOffline;
  c.workload.num_requests = 64;
  c.workload.input.a = 512;
  c.workload.output.a = 64;
  const auto serve =
      sensitivity(WorkloadKind::kServe, single_chip_system(c.hw), serve_evaluation(c));
  expect_monotone(serve);
}

TEST(Sensitivity, SramIsListedButNotModelled) {
  const Sensitivity s = infer_sensitivity("llama-2-7b", "maia100", 1, 1, 128, 128);
  const auto it = std::find_if(s.rows.begin(), s.rows.end(), [](const SensitivityRow& r) {
    return r.resource.kind == ResourceKind::kOnchipSram;
  });
  ASSERT_NE(it, s.rows.end());
  EXPECT_FALSE(it->modelled);
  EXPECT_FALSE(it->note.empty());
}

TEST(Sensitivity, CostFollowsTimeAtAFixedPrice) {
  const Sensitivity s = infer_sensitivity("llama-2-7b", "h100-sxm", 1, 4, 512, 128);
  for (const auto& row : s.rows) {
    if (!row.modelled || !row.cost_change) continue;
    EXPECT_NEAR(*row.cost_change, row.time_change, 1e-9) << row.resource.name();
  }
}

TEST(Sensitivity, AWorkloadThatDoesNotRunIsAnError) {
  try {
    (void)infer_sensitivity("llama-2-70b", "h100-sxm", 1, 1, 128, 128);
    FAIL() << "70B bf16 does not fit one H100";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("sensitivity: workload: does not run on the base "
                                          "machine: needs ",
                                          0),
              0u)
        << e.what();
  }
}

// --- the command line: --hw-add and --price ----------------------------------------------------

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

CliRun run_cli(const std::string& args) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string tag = std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const auto out = dir / ("xpusim_study_" + tag + ".out");
  const auto err = dir / ("xpusim_study_" + tag + ".err");
  const std::string command = std::string("'") + XPUSIM_BINARY + "' --data-dir '" +
                              XPUSIM_SOURCE_DATADIR + "' " + args + " >'" + out.string() + "' 2>'" +
                              err.string() + "'";
  const int raw = std::system(command.c_str());
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CliRun run{raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read(out), read(err)};
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return run;
}

const std::string kUserChip = std::string(XPUSIM_TEST_DATADIR) + "/hw/my-h100-clone.yaml";

TEST(CompareCli, AUserChipJoinsWithItsGivenPrice) {
  const CliRun run =
      run_cli("compare --hw-add '" + kUserChip + "' --price my-h100-clone=4.5 --format json");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  bool seen = false;
  for (const auto& row : j["rows"]) {
    if (row["hw"] != "my-h100-clone") continue;
    seen = true;
    EXPECT_TRUE(row["runnable"].get<bool>());
    EXPECT_EQ(row["devices"], 8);
    EXPECT_EQ(row["placement"], "scale_up_domain");
    EXPECT_TRUE(row["price_given"].get<bool>());
    EXPECT_DOUBLE_EQ(row["price_usd_per_device_hour"].get<double>(), 4.5);
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(j["price"]["given"], nlohmann::json::array({"my-h100-clone"}));
}

TEST(CompareCli, APriceForAnUnknownChipIsOneLine) {
  const CliRun run = run_cli("compare --price maia10=5");
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.err,
            "xpusim: command line: --price: no accelerator 'maia10' in the comparison (did you "
            "mean: maia100?)\n");
}

TEST(CompareCli, APriceThatIsNotANumber) {
  const CliRun run = run_cli("compare --price maia100=cheap");
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.err,
            "xpusim: command line: --price: expected ID=USD_PER_DEVICE_HOUR, got "
            "'maia100=cheap'\n");
}

TEST(SensitivityCli, JsonHasARowPerResource) {
  const CliRun run = run_cli(
      "sensitivity infer --model llama-2-7b --hw h100-sxm --batch 1 --output-len 256 --format "
      "json");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["kind"], "infer");
  EXPECT_DOUBLE_EQ(j["step"].get<double>(), 0.10);
  std::vector<std::string> names;
  for (const auto& row : j["rows"]) names.push_back(row["resource"]);
  for (const char* name : {"matrix_flops.bf16", "memory_bandwidth", "memory_capacity",
                           "scale_up_bandwidth", "scale_out_bandwidth"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

TEST(SensitivityCli, AStepOfZeroIsOneLine) {
  const CliRun run = run_cli("sensitivity --step-percent 0 infer --model llama-2-7b --hw h100-sxm");
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.err, "xpusim: command line: --step-percent: expected 0 < step <= 100, got 0\n");
}

TEST(CompareCli, TrainingWithoutTokensIsOneLine) {
  const CliRun run = run_cli("compare --train --tokens 0");
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.err, "xpusim: command line: --tokens: expected > 0, got 0\n");
}

TEST(CompareCli, AnAddedChipMayNotTakeACatalogId) {
  const CliRun run = run_cli("compare --hw-add '" + std::string(XPUSIM_SOURCE_DATADIR) +
                             "/hardware/h100-sxm.yaml'");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("--hw-add: "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("id 'h100-sxm' is already taken"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace xpusim

// The probe file (tools/probe) parsed strictly, turned into efficiency figures, and its
// end-to-end steps predicted. tests/data/probe/synthetic-h200.json is a SYNTHETIC fixture
// written by make_synthetic.py (GEMM times from gemm_cost's formula with known figures).

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/calibrate/calibration.hpp"
#include "xpusim/calibrate/probe.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {
namespace {

const std::filesystem::path kFixture =
    std::filesystem::path(XPUSIM_TEST_DATADIR) / "probe" / "synthetic-h200.json";

const CalibratedFigure& figure(const std::vector<CalibratedFigure>& figures,
                               const std::string& key) {
  for (const auto& f : figures) {
    if (f.key == key) return f;
  }
  static const CalibratedFigure none{"(none)", NAN, ""};
  ADD_FAILURE() << "no figure " << key;
  return none;
}

/// The fixture with one edit applied, parsed from text.
std::string parse_error_after(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(testing::read_text(kFixture));
  edit(j);
  return testing::error_of([&] { (void)parse_probe(j.dump(), "p.json"); });
}

TEST(Probe, ParsesTheSyntheticFixture) {
  const Probe p = load_probe_file(kFixture);
  EXPECT_TRUE(p.synthetic);
  EXPECT_FALSE(p.smoke);
  EXPECT_EQ(p.device_name, "synthetic-test-fixture");
  EXPECT_EQ(p.software.at("torch"), "synthetic");
  EXPECT_EQ(p.software.count("cuda"), 0u);  // null: not recorded
  ASSERT_NE(p.section("gemm"), nullptr);
  EXPECT_EQ(p.section("grouped_gemm"), nullptr);  // skipped, no results
  EXPECT_EQ(p.sections.at("grouped_gemm").status, "skipped");
  const ProbeMeasurement& first = p.section("gemm")->results.front();
  EXPECT_EQ(first.op, "gemm");
  EXPECT_EQ(first.size("n"), 6144);
  EXPECT_FALSE(p.section("train_step")->model_config_json.empty());
}

TEST(Probe, RefusesUnknownKeysWithASuggestion) {
  EXPECT_EQ(parse_error_after([](nlohmann::json& j) { j["devise_name"] = "x"; }),
            "p.json: devise_name: unknown key (did you mean: device_name?)");
  EXPECT_EQ(parse_error_after(
                [](nlohmann::json& j) { j["sections"]["gemm"]["results"][3]["tme_s"] = 1.0; }),
            "p.json: sections.gemm.results[3].tme_s: unknown key (did you mean: time_s?)");
  EXPECT_EQ(
      parse_error_after([](nlohmann::json& j) { j["sections"]["gemms"] = j["sections"]["gemm"]; }),
      "p.json: sections.gemms: unknown key (did you mean: gemm?)");
}

TEST(Probe, RefusesBadValuesNamingTheKey) {
  EXPECT_EQ(parse_error_after([](nlohmann::json& j) { j["schema"] = "xpusim-probe/0"; }),
            "p.json: schema: expected 'xpusim-probe/1', got 'xpusim-probe/0'");
  EXPECT_EQ(parse_error_after(
                [](nlohmann::json& j) { j["sections"]["memory"]["results"][0]["time_s"] = -1.0; }),
            "p.json: sections.memory.results[0].time_s: expected > 0, got -1");
  EXPECT_EQ(parse_error_after([](nlohmann::json& j) {
              j["sections"]["launch"]["results"][1]["timing"] = "graph";
            }),
            "p.json: sections.launch.results[1].timing: expected one of cuda_graph, eager, wall, "
            "got 'graph' (did you mean: cuda_graph?)");
  // A derived rate that disagrees with work / time is an error, not trusted.
  EXPECT_EQ(parse_error_after([](nlohmann::json& j) {
              auto& m = j["sections"]["gemm"]["results"][0];
              m["achieved_flops_per_s"] = m["achieved_flops_per_s"].get<double>() * 2.0;
            })
                .rfind("p.json: sections.gemm.results[0].achieved_flops_per_s: expected flops / "
                       "time_s = ",
                       0),
            0u);
  EXPECT_EQ(parse_error_after([](nlohmann::json& j) { j["sections"]["gemm"]["status"] = "error"; }),
            "p.json: sections.gemm.error: missing (the section is not ok)");
  EXPECT_EQ(testing::error_of([] { (void)parse_probe("{\"schema\": ", "p.json"); }),
            "p.json: malformed JSON at line 1 (byte 12)");
}

TEST(Calibrate, RecoversTheFiguresTheFixtureWasMadeWith) {
  // make_synthetic.py: bf16 0.75, fp8 0.62, fixed 4 us, overlap 0.6, overhead 2 us, HBM 0.85.
  const Calibration c = calibrate(load_probe_file(kFixture), testing::hw("h200-sxm"));
  EXPECT_NEAR(figure(c.gemm_fraction_of_peak, "bf16").value, 0.75, 1e-4);
  EXPECT_NEAR(figure(c.gemm_fraction_of_peak, "fp8").value, 0.62, 1e-4);
  ASSERT_TRUE(c.matmul_fixed_time_s && c.compute_memory_overlap_fraction && c.kernel_overhead_s &&
              c.memory_bandwidth_fraction);
  EXPECT_NEAR(c.matmul_fixed_time_s->value, 4e-6, 1e-8);
  EXPECT_NEAR(c.compute_memory_overlap_fraction->value, 0.6, 1e-3);
  EXPECT_NEAR(c.kernel_overhead_s->value, 2e-6, 1e-12);
  EXPECT_NEAR(c.memory_bandwidth_fraction->value, 0.85, 1e-9);
  EXPECT_EQ(c.gemm_fit_points, 20);
  EXPECT_LT(c.gemm_fit_rms_relative_error, 1e-3);
  // Attention per backend and direction; the efficient backend has no kernel in the schema.
  EXPECT_NEAR(figure(c.attention_fraction_of_peak, "flash2_forward").value, 0.55, 1e-9);
  EXPECT_NEAR(figure(c.attention_fraction_of_peak, "cudnn_backward").value, 0.5, 1e-9);
  EXPECT_EQ(c.attention_fraction_of_peak.size(), 4u);
  EXPECT_EQ(c.source_id, "probe_synthetic_h200");
  ASSERT_FALSE(c.warnings.empty());
  EXPECT_EQ(c.warnings.front(), "the file is a synthetic test fixture, not a measurement");
  EXPECT_NE(figure(c.gemm_fraction_of_peak, "bf16").note.find("synthetic-h200.json"),
            std::string::npos);
}

TEST(Calibrate, FitRoundTripsTimesFromGemmCostItself) {
  // Times from the library's own gemm_cost with chosen figures: the fit gives them back.
  AcceleratorSpec truth = testing::hw("h200-sxm");
  truth.efficiency.gemm_fraction_of_peak[index_of(GemmKind::kBf16)] = 0.7;
  truth.efficiency.matmul_fixed_time = Seconds(6e-6);
  truth.efficiency.compute_memory_overlap_fraction = 0.3;
  truth.efficiency.kernel_overhead = Seconds(1.5e-6);
  truth.efficiency.memory_bandwidth_fraction = 0.9;
  Probe p;
  p.file = "round-trip.json";
  ProbeSection gemm;
  gemm.status = "ok";
  for (int64_t m : {1, 8, 64, 512, 4096, 8192, 16384}) {
    for (const auto& [n, k] :
         {std::pair<int64_t, int64_t>{8192, 8192}, {28672, 8192}, {8192, 28672}}) {
      ProbeMeasurement g;
      g.op = "gemm";
      g.dtype = "bf16";
      g.shape = {{"m", m}, {"n", n}, {"k", k}};
      g.time = gemm_cost({m, n, k, 1}, truth, Deployment{}).time;
      gemm.results.push_back(g);
    }
  }
  p.sections["gemm"] = gemm;
  ProbeSection launch;
  ProbeMeasurement l;
  l.op = "launch";
  l.impl = "cuda_graph";
  l.shape = {{"kernels", 1000}};
  l.time = truth.efficiency.kernel_overhead;
  launch.results.push_back(l);
  p.sections["launch"] = launch;
  ProbeSection memory;
  ProbeMeasurement copy;
  copy.op = "copy";
  copy.shape = {{"elements", 1 << 30}};
  copy.bytes = Bytes(8.0 * (1 << 30));
  copy.time = copy.bytes / (truth.memory_bandwidth * 0.9);
  memory.results.push_back(copy);
  p.sections["memory"] = memory;

  const Calibration c = calibrate(p, testing::hw("h200-sxm"));
  EXPECT_NEAR(figure(c.gemm_fraction_of_peak, "bf16").value, 0.7, 1e-4);
  ASSERT_TRUE(c.matmul_fixed_time_s && c.compute_memory_overlap_fraction);
  EXPECT_NEAR(c.matmul_fixed_time_s->value, 6e-6, 1e-8);
  EXPECT_NEAR(c.compute_memory_overlap_fraction->value, 0.3, 1e-3);
  // Predicting the grid with the calibrated device reproduces the times.
  const AcceleratorSpec calibrated = with_calibration(testing::hw("h200-sxm"), c);
  for (const auto& g : p.sections["gemm"].results) {
    const Seconds t =
        gemm_cost({g.size("m"), g.size("n"), g.size("k"), 1}, calibrated, Deployment{}).time;
    EXPECT_NEAR(t / g.time, 1.0, 1e-3) << g.size("m") << "x" << g.size("n") << "x" << g.size("k");
  }
}

TEST(Calibrate, SaysWhatItCouldNotDerive) {
  Probe p;
  p.file = "empty.json";
  const Calibration c = calibrate(p, testing::hw("h200-sxm"));
  EXPECT_TRUE(c.gemm_fraction_of_peak.empty());
  EXPECT_FALSE(c.kernel_overhead_s.has_value());
  EXPECT_EQ(c.not_derived.size(), 5u);
  EXPECT_EQ(c.not_derived.back(),
            "scale_up_bandwidth_fraction: a one-GPU probe does not measure the fabric");
}

TEST(EndToEnd, PredictsTheProbesTrainStepAndDecodeLoop) {
  const Probe p = load_probe_file(kFixture);
  const AcceleratorSpec hw = testing::hw("h200-sxm");
  const auto checks = compare_end_to_end(p, hw);
  ASSERT_EQ(checks.size(), 5u);
  EXPECT_EQ(checks[0].metric, "train_step_s");
  EXPECT_DOUBLE_EQ(checks[0].measured_s, 0.30);
  EXPECT_EQ(checks[3].metric, "ttft_s");
  EXPECT_EQ(checks[4].metric, "tpot_s");
  EXPECT_DOUBLE_EQ(checks[4].measured_s, 0.0015);  // the CUDA-graph decode, not the eager one

  // The same predictions made directly: the recorded configuration is what xpusim is given.
  ModelSpec model = load_model("llama-3.1-8b", testing::models_dir());
  model.layers = 4;
  model.layer_sliding.assign(4, false);
  SystemSpec one;
  one.accelerator = hw;
  one.scale_up.bandwidth = hw.scale_up_bandwidth;
  one.scale_up.efficiency = hw.efficiency.scale_up_bandwidth_fraction;
  one.scale_out.bandwidth = hw.scale_up_bandwidth;
  TrainingJob job;
  job.global_batch = 2;
  job.seq_len = 4096;
  ParallelPlan plan;
  plan.micro_batch = 2;
  const TrainingResult train = evaluate_training(model, one, job, plan);
  EXPECT_NEAR(checks[0].predicted_s, train.step_time.value(), 1e-12);
  EXPECT_NEAR(checks[2].predicted_s, train.breakdown.optimizer.value(), 1e-12);
  InferenceRequest r;
  r.batch = 16;
  r.input_len = 1024;
  r.output_len = 129;
  const InferenceResult infer = estimate_inference(model, hw, r, Economics{});
  EXPECT_NEAR(checks[3].predicted_s, infer.ttft.value(), 1e-12);
  EXPECT_NEAR(checks[4].predicted_s, infer.tpot.value(), 1e-12);
}

TEST(CalibrateCli, PrintsTheEfficiencyBlock) {
  const auto r = testing::run_xpusim("calibrate " + kFixture.string() + " --hw h200-sxm");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("efficiency:\n  gemm_fraction_of_peak:\n    bf16: {value: 0.75, source: "
                       "probe_synthetic_h200, note: "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("# WARNING: the file is a synthetic test fixture"), std::string::npos);
  EXPECT_NE(r.out.find("#   tpot_s: measured 0.0015, predicted "), std::string::npos);
}

TEST(CalibrateCli, BadInputExitsTwoNamingTheFile) {
  const auto r = testing::run_xpusim("calibrate /nonexistent/probe.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "xpusim: /nonexistent/probe.json: no such file\n");
}

}  // namespace
}  // namespace xpusim

// Speed of the core: one forward-pass cost, one inference estimate, and the whole compare.
// Run: build/bench/xpusim_bench (not part of ctest).

#include <benchmark/benchmark.h>

#include <filesystem>

#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/study/compare.hpp"
#include "xpusim/system/system.hpp"

namespace {

const std::filesystem::path kData = XPUSIM_SOURCE_DATADIR;

struct Inputs {
  xpusim::ModelSpec model = xpusim::load_model("llama-2-70b", kData / "models");
  xpusim::AcceleratorSpec hw = xpusim::load_accelerator("h100-sxm", kData / "hardware");
  xpusim::Economics economics = xpusim::load_economics(kData / "economics.yaml");
};

const Inputs& inputs() {
  static const Inputs loaded;
  return loaded;
}

void BM_CostOneDecodePass(benchmark::State& state) {
  const Inputs& in = inputs();
  xpusim::Deployment d;
  d.tensor_parallel = 8;
  for (auto _ : state) {
    benchmark::DoNotOptimize(xpusim::cost_pass(in.model, in.hw, d, {64, 1, 2048}));
  }
}
BENCHMARK(BM_CostOneDecodePass);

// One `xpusim infer` estimate: prefill, three decode points, memory, max batch, energy, cost.
void BM_OneInferenceEstimate(benchmark::State& state) {
  const Inputs& in = inputs();
  xpusim::InferenceRequest r;
  r.devices = 8;
  r.batch = 64;
  r.input_len = 1024;
  r.output_len = 256;
  for (auto _ : state) {
    benchmark::DoNotOptimize(xpusim::estimate_inference(in.model, in.hw, r, in.economics));
  }
}
BENCHMARK(BM_OneInferenceEstimate);

xpusim::CompareTable default_compare(const xpusim::ModelSpec& model,
                                     const xpusim::Economics& economics) {
  const auto contenders =
      xpusim::contenders_of(xpusim::load_all_accelerators(kData / "hardware"),
                            xpusim::load_all_systems(kData / "systems", kData / "hardware"));
  return xpusim::compare_inference(model, contenders, xpusim::CompareOptions{}, economics);
}

// The whole default `xpusim compare` after loading: every catalog accelerator at its natural
// node, best steady-state concurrency each.
void BM_CompareAllAccelerators(benchmark::State& state) {
  const Inputs& in = inputs();
  const auto contenders =
      xpusim::contenders_of(xpusim::load_all_accelerators(kData / "hardware"),
                            xpusim::load_all_systems(kData / "systems", kData / "hardware"));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        xpusim::compare_inference(in.model, contenders, xpusim::CompareOptions{}, in.economics));
  }
}
BENCHMARK(BM_CompareAllAccelerators)->Unit(benchmark::kMillisecond)->UseRealTime();

// Including the catalogs' parsing (accelerators, systems, model, economics), as the command does
// it: the process-level budget of `xpusim compare` is 0.5 s (README, "Speed").
void BM_CompareWithLoading(benchmark::State& state) {
  for (auto _ : state) {
    const auto model = xpusim::load_model("llama-2-70b", kData / "models");
    const auto economics = xpusim::load_economics(kData / "economics.yaml");
    benchmark::DoNotOptimize(default_compare(model, economics));
  }
}
BENCHMARK(BM_CompareWithLoading)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

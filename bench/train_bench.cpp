// Speed of the training model: one plan's step, and the exhaustive search of GPT-3 175B on
// 1024 devices (the configuration Calculon takes hours to search). Not part of ctest.

#include <benchmark/benchmark.h>

#include <filesystem>

#include "xpusim/model/catalog.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/search.hpp"

namespace {

const std::filesystem::path kData = XPUSIM_SOURCE_DATADIR;

struct Inputs {
  xpusim::ModelSpec model = xpusim::load_model("gpt3-175b", kData / "models");
  xpusim::SystemSpec system = xpusim::with_nodes(
      xpusim::load_system("dgx-a100-superpod", kData / "systems", kData / "hardware"), 128);
  xpusim::TrainingJob job = [] {
    xpusim::TrainingJob j;
    j.global_batch = 1536;
    j.seq_len = 2048;
    return j;
  }();
};

const Inputs& inputs() {
  static const Inputs loaded;
  return loaded;
}

xpusim::ParallelPlan megatron_plan() {
  xpusim::ParallelPlan p;
  p.tp = 8;
  p.pp = 8;
  p.vpp = 2;
  p.dp = 16;
  p.micro_batch = 1;
  p.recompute = xpusim::Recompute::kFull;
  return p;
}

// A full evaluation: per-micro-batch costs from the operator model, then the step.
void BM_TrainingStepEvaluation(benchmark::State& state) {
  const Inputs& in = inputs();
  const auto plan = megatron_plan();
  for (auto _ : state)
    benchmark::DoNotOptimize(xpusim::evaluate_training(in.model, in.system, in.job, plan));
}
BENCHMARK(BM_TrainingStepEvaluation);

// What the search does for most plans: the micro-batch costs are shared, the step is not.
void BM_TrainingStepFromSharedCosts(benchmark::State& state) {
  const Inputs& in = inputs();
  const auto plan = megatron_plan();
  const auto costs = xpusim::micro_batch_cost(in.model, in.system, in.job, plan);
  for (auto _ : state)
    benchmark::DoNotOptimize(xpusim::finish_step(in.model, in.system, in.job, plan, costs));
}
BENCHMARK(BM_TrainingStepFromSharedCosts);

// The whole search; counters report valid plans evaluated per second of wall time.
void BM_SearchGpt3On1024(benchmark::State& state) {
  const Inputs& in = inputs();
  int64_t evaluated = 0;
  for (auto _ : state) {
    const auto result =
        xpusim::search_training(in.model, in.system, in.job, xpusim::SearchOptions{});
    evaluated += result.evaluated;
    benchmark::DoNotOptimize(result);
  }
  state.counters["plans"] =
      benchmark::Counter(static_cast<double>(evaluated) / static_cast<double>(state.iterations()));
  state.counters["plans_per_s"] =
      benchmark::Counter(static_cast<double>(evaluated), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SearchGpt3On1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

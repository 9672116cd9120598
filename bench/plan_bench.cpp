// Speed of `xpusim plan` on the README's case: Llama-2-70B at 20 requests/s over the whole
// accelerator catalog, each chip with its newest serving stack, colocated and disaggregated.
// Run: build/bench/xpusim_bench --benchmark_filter=Plan (not part of ctest).

#include <benchmark/benchmark.h>

#include <filesystem>

#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/serve/plan.hpp"
#include "xpusim/stack/stack.hpp"

namespace {

const std::filesystem::path kData = XPUSIM_SOURCE_DATADIR;

xpusim::PlanRequest readme_case() {
  xpusim::PlanRequest r;
  xpusim::ServeConfig& b = r.base;
  b.model = xpusim::load_model("llama-2-70b", kData / "models");
  b.economics = xpusim::load_economics(kData / "economics.yaml");
  b.economics.price_basis = xpusim::PriceBasis::kCloud;
  b.scheduler = xpusim::SchedulerKind::kChunked;
  b.workload.num_requests = 300;
  b.workload.input = xpusim::parse_length_distribution("lognormal:1024:512", "--input-len");
  b.workload.output = xpusim::parse_length_distribution("lognormal:256:128", "--output-len");
  r.rate_requests_per_s = 20.0;
  r.accelerators = xpusim::load_all_accelerators(kData / "hardware");
  const auto stacks = xpusim::load_all_stacks(kData / "stacks");
  for (const auto& hw : r.accelerators) {
    const auto family = xpusim::architecture_family(hw.vendor, hw.architecture);
    const xpusim::StackSpec* s = family ? xpusim::newest_serving_stack(stacks, *family) : nullptr;
    r.stacks.push_back(s ? std::optional<xpusim::StackSpec>(*s) : std::nullopt);
  }
  return r;
}

void BM_PlanReadmeCase(benchmark::State& state) {
  const xpusim::PlanRequest request = readme_case();
  int simulations = 0;
  for (auto _ : state) {
    const xpusim::PlanResult r = xpusim::plan_deployment(request);
    simulations = r.simulations;
    benchmark::DoNotOptimize(r.candidates.front().usd_per_hour);
  }
  state.counters["simulations"] = simulations;
}
BENCHMARK(BM_PlanReadmeCase)->Unit(benchmark::kMillisecond);

}  // namespace

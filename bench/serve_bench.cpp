// Speed of the serving simulator: iterations simulated per second, and the wall time of one
// and ten million requests on one 8xH100 node (Llama-2-70B, TP8), with the process's peak
// resident memory after each (flat: requests are streamed, percentiles sketched). Run:
// build/bench/xpusim_bench --benchmark_filter=Serve (not part of ctest).

#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <filesystem>

#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/serve/simulator.hpp"

namespace {

const std::filesystem::path kData = XPUSIM_SOURCE_DATADIR;

xpusim::ServeConfig node_config(int64_t requests, xpusim::SchedulerKind scheduler) {
  xpusim::ServeConfig c;
  c.model = xpusim::load_model("llama-2-70b", kData / "models");
  c.hw = xpusim::load_accelerator("h100-sxm", kData / "hardware");
  c.economics = xpusim::load_economics(kData / "economics.yaml");
  c.tensor_parallel = 8;
  c.scheduler = scheduler;
  c.workload.arrival = xpusim::ArrivalKind::kPoisson;
  c.workload.rate_per_s = 8.0;  // the node sustains more than 12 requests/s of these lengths
  c.workload.num_requests = requests;
  c.workload.input = xpusim::parse_length_distribution("lognormal:1024:512", "--input-len");
  c.workload.output = xpusim::parse_length_distribution("lognormal:256:128", "--output-len");
  c.workload.seed = 1;
  return c;
}

void run(benchmark::State& state, xpusim::SchedulerKind scheduler) {
  const xpusim::ServeConfig c = node_config(state.range(0), scheduler);
  int64_t iterations = 0, requests = 0;
  for (auto _ : state) {
    const xpusim::ServeResult r = xpusim::simulate(c);
    iterations += r.iterations;
    requests += r.requests;
    benchmark::DoNotOptimize(r.e2e.p99);
  }
  state.counters["engine_iterations_per_s"] =
      benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
  state.counters["requests_per_s"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["peak_rss_mib"] = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

void BM_ServeContinuous(benchmark::State& state) {
  run(state, xpusim::SchedulerKind::kContinuous);
}
BENCHMARK(BM_ServeContinuous)->Arg(10'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ServeContinuous)->Arg(10'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_ServeChunked(benchmark::State& state) {
  run(state, xpusim::SchedulerKind::kChunked);
}
BENCHMARK(BM_ServeChunked)->Arg(10'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ServeChunked)->Arg(10'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

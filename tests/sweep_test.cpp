// Design-space sweeps: the grid's order, strict parsing, and results that do not depend on
// how the points are split over threads or ranks.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/sweep/sweep.hpp"

// Counts heap allocations, to check that evaluating points allocates nothing.
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too (std::stable_sort's temporary buffer), so that every new pairs with
// this free (AddressSanitizer checks the pairing).
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace xpusim {
namespace {

SweepGrid grid() {
  return load_sweep_grid(testing::data_dir() / "sweeps" / "chips-small.yaml", testing::data_dir());
}

std::vector<SweepResult> run(const SweepGrid& g, const std::vector<std::string>& reasons,
                             std::size_t parts, unsigned threads) {
  std::vector<SweepResult> all(g.size());
  for (std::size_t p = 0; p < parts; ++p) {
    const std::size_t first = g.size() * p / parts, end = g.size() * (p + 1) / parts;
    evaluate_sweep(g, reasons, first, std::span(all).subspan(first, end - first), threads);
  }
  return all;
}

TEST(Sweep, PointsWalkPlansFastestThenWorkloadsModelsChips) {
  const SweepGrid g = grid();
  ASSERT_EQ(g.size(), 5u * 2 * 2 * 3);
  EXPECT_EQ(g.chips[3].id, "maia100-derived");  // chip files follow the catalog accelerators
  const SweepIndex at = sweep_index(g, 1 * 12 + 1 * 6 + 1 * 3 + 2);
  EXPECT_EQ(at.chip, 1u);
  EXPECT_EQ(at.model, 1u);
  EXPECT_EQ(at.workload, 1u);
  EXPECT_EQ(at.plan, 2u);
}

TEST(Sweep, ResultsDoNotDependOnTheSplit) {
  const SweepGrid g = grid();
  const auto reasons = sweep_feasibility(g);
  const auto one = run(g, reasons, 1, 1);
  for (auto [parts, threads] : {std::pair<std::size_t, unsigned>{1, 2}, {2, 1}, {7, 2}}) {
    const auto split = run(g, reasons, parts, threads);
    EXPECT_TRUE(one == split) << parts << " parts, " << threads << " threads";
    EXPECT_EQ(sweep_csv(g, reasons, one), sweep_csv(g, reasons, split));
  }
}

TEST(Sweep, EvaluatingPointsAllocatesNothing) {
  const SweepGrid g = grid();
  const auto reasons = sweep_feasibility(g);
  std::vector<SweepResult> results(g.size());
  const long before = g_allocations.load();
  evaluate_sweep(g, reasons, 0, results, 1);  // one thread: no thread objects either
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_TRUE(results[0].feasible);
  const auto csv = sweep_csv(g, reasons, results);  // the counter does count: formatting allocates
  EXPECT_GT(g_allocations.load() - before, 0);
}

TEST(Sweep, PointMatchesTheSingleEstimate) {
  const SweepGrid g = grid();
  const auto reasons = sweep_feasibility(g);
  const auto results = run(g, reasons, 1, 1);
  // Point 0: h100-sxm, llama-3.1-8b, chat (batch 32, 1024/256), tp 1, bf16.
  InferenceRequest r;
  r.batch = 32;
  r.input_len = 1024;
  r.output_len = 256;
  const InferenceResult e = estimate_inference(g.models[0], g.chips[0], r, g.economics);
  ASSERT_TRUE(results[0].feasible);
  EXPECT_EQ(results[0].throughput_tokens_per_s, e.throughput_tokens_per_s);
  EXPECT_EQ(results[0].ttft_s, e.ttft.value());
}

TEST(Sweep, InfeasiblePointsCarryTheirReason) {
  const SweepGrid g = grid();
  const auto reasons = sweep_feasibility(g);
  const auto results = run(g, reasons, 1, 1);
  std::size_t infeasible = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_EQ(results[i].feasible, reasons[i].empty()) << i;
    infeasible += reasons[i].empty() ? 0 : 1;
  }
  EXPECT_GT(infeasible, 0u);              // llama-2-70b at 8k context, 70B on one 80 GB device
  EXPECT_EQ(reasons[6], "does not fit");  // h100-sxm, llama-2-70b, chat, tp 1
}

TEST(Sweep, UnknownGridKeyIsAnError) {
  testing::ScratchDir scratch;
  const auto file = scratch.path() / "grid.yaml";
  testing::write_text(file,
                      "accelerators: [h100-sxm]\nmodels: [llama-3.1-8b]\n"
                      "workloads: [{name: a, batch: 1}]\nplans: [{tp: 1, dtype: fp8}]\n");
  const std::string message =
      testing::error_of([&] { (void)load_sweep_grid(file, testing::data_dir()); });
  EXPECT_EQ(message, file.string() +
                         ": plans[0].dtype: unknown key (did you mean: weight_dtype, kv_dtype?)");
}

}  // namespace
}  // namespace xpusim

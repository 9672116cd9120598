#pragma once
// Design-space sweeps: the product of chip designs, models, workloads and plans, each point an
// inference estimate (format of GRID.yaml: docs/sweep.md). Parsing and the feasibility check
// happen once up front; `evaluate_sweep` then runs the cost model on a range of points into
// preallocated results, allocating nothing per point, so that threads and MPI ranks can share
// the grid by index range and the gathered result is the same however it was split.

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/accelerator.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {

struct SweepWorkload {
  std::string name;
  int64_t batch = 1;
  int64_t input_len = 128;
  int64_t output_len = 128;
};

struct SweepPlan {
  int tp = 1;
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
};

struct SweepGrid {
  std::vector<AcceleratorSpec> chips;  ///< catalog entries, accelerator files, derived chips
  std::vector<ModelSpec> models;
  std::vector<SweepWorkload> workloads;
  std::vector<SweepPlan> plans;
  Economics economics;
  /// The default system of chip c for plan p at [c x plans + p] (infer on a bare accelerator).
  std::vector<SystemSpec> systems;

  [[nodiscard]] std::size_t size() const {
    return chips.size() * models.size() * workloads.size() * plans.size();
  }
};

/// The indices of one point; point i walks plans fastest, then workloads, models, chips.
struct SweepIndex {
  std::size_t chip = 0, model = 0, workload = 0, plan = 0;
};
[[nodiscard]] SweepIndex sweep_index(const SweepGrid& grid, std::size_t point);

/// Reads GRID.yaml strictly: `accelerators` (ids or paths), `chip_files` (data/chips/ format,
/// derived here), `models`, `workloads`, `plans`. Paths in the file are relative to it.
[[nodiscard]] SweepGrid load_sweep_grid(const std::filesystem::path& file,
                                        const std::filesystem::path& data_dir);

/// The outcome of one point: plain numbers, so that results copy and gather as bytes.
struct SweepResult {
  bool feasible = false;  ///< validated and at least one request fits
  int64_t batch = 0;      ///< the workload's batch, capped at the largest that fits
  double ttft_s = 0.0;
  double tpot_s = 0.0;
  double throughput_tokens_per_s = 0.0;  ///< generated, the whole TP group
  double tokens_per_s_per_device = 0.0;
  double memory_per_device_bytes = 0.0;
  double energy_per_token_j = 0.0;
  double cost_per_million_tokens_usd = 0.0;  ///< 0 without a price
  /// Member by member (not by bytes: the padding after `feasible` is unspecified).
  bool operator==(const SweepResult&) const = default;
};

/// Why each point cannot run ("" where it can): the cheap check before the cost model. Runs
/// once over the whole grid.
[[nodiscard]] std::vector<std::string> sweep_feasibility(const SweepGrid& grid);

/// Evaluates points [first, first + out.size()) on up to `threads` threads (0: all cores);
/// points whose reason is non-empty stay infeasible. Allocates nothing per point.
void evaluate_sweep(const SweepGrid& grid, const std::vector<std::string>& reasons,
                    std::size_t first, std::span<SweepResult> out, unsigned threads);

/// One header line and one line per point, in point order.
[[nodiscard]] std::string sweep_csv(const SweepGrid& grid, const std::vector<std::string>& reasons,
                                    const std::vector<SweepResult>& results);
/// One JSON object per line per point, in point order.
[[nodiscard]] std::string sweep_jsonl(const SweepGrid& grid,
                                      const std::vector<std::string>& reasons,
                                      const std::vector<SweepResult>& results);

}  // namespace xpusim

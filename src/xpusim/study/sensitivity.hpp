#pragma once
// Which resource bounds a workload: the change in its time and cost when one resource of the
// machine grows by a step (+10%) and nothing else changes, resource by resource, so that an
// architect sees where the next transistor (or dollar) should go.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/econ/economics.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {

/// What is evaluated: it decides which resources the cost model reads at all.
enum class WorkloadKind { kInfer, kTrain, kServe };

[[nodiscard]] std::string_view to_string(WorkloadKind kind);

/// One resource of the machine that a step can grow.
enum class ResourceKind {
  kMatrixFlops,        ///< dense peak of one data type (`dtype`)
  kVectorFlops,        ///< non-matrix fp32
  kMemoryBandwidth,    ///< HBM (or LPDDR) bandwidth
  kMemoryCapacity,     ///< HBM capacity
  kScaleUpBandwidth,   ///< per device, per direction (accelerator and system fabric)
  kScaleOutBandwidth,  ///< per device, per direction (accelerator and system network)
  kHostLink,           ///< bandwidth to host memory (CPU offload)
  kOnchipSram,         ///< on-chip SRAM capacity
};

struct Resource {
  ResourceKind kind = ResourceKind::kMatrixFlops;
  DType dtype = DType::kBf16;  ///< for kMatrixFlops
  /// "matrix_flops.bf16", "memory_bandwidth", ...: the JSON key and the table's name.
  [[nodiscard]] std::string name() const;
};

/// A workload's time and cost on one machine; `feasible` false when it no longer runs.
struct Outcome {
  bool feasible = true;
  std::string reason;  ///< why not, when infeasible
  Seconds time;
  std::optional<double> cost_usd;
};

/// Evaluates the workload on a (changed) machine. For inference and serving only
/// `system.accelerator` matters (tensor parallelism on the chip's own domain).
using Evaluate = std::function<Outcome(const SystemSpec& system)>;

struct SensitivityRow {
  Resource resource;
  /// false: the cost model does not read this resource for this workload (`note` says why);
  /// the row is then not evaluated.
  bool modelled = true;
  std::string note;
  Outcome changed;
  double time_change = 0.0;           ///< (changed - base) / base
  std::optional<double> cost_change;  ///< same for the cost
  double time_elasticity = 0.0;       ///< time_change / step: -1 means time ∝ 1/resource
};

struct Sensitivity {
  WorkloadKind kind = WorkloadKind::kInfer;
  std::string time_metric;  ///< what `time` is ("end-to-end latency of the batch", ...)
  std::string cost_metric;  ///< what `cost_usd` is
  double step = 0.10;
  Outcome base;
  std::vector<SensitivityRow> rows;  ///< in resource order, the chip's data types first
};

/// Grows each resource of `system` by `step` in turn (the accelerator's figure and the system's
/// copy of it) and evaluates. Resources the chip does not have (no fp8 peak, no scale-out link,
/// no SRAM figure) are left out; those the cost model ignores for `kind` are rows with
/// `modelled` false. Throws Error(kInput) when `step` is not in (0, 1] or the base is infeasible.
[[nodiscard]] Sensitivity sensitivity(WorkloadKind kind, const SystemSpec& system,
                                      const Evaluate& evaluate, double step = 0.10);

/// `system` with one resource scaled by `factor`.
[[nodiscard]] SystemSpec scaled(SystemSpec system, const Resource& resource, double factor);

/// One batch of `infer` on `hw`: time = end-to-end latency of the batch, cost = $ per million
/// generated tokens on the economics' basis.
[[nodiscard]] Evaluate infer_evaluation(const ModelSpec& model, const InferenceRequest& request,
                                        const Economics& economics);

/// One training step under `plan`: time = step time (or, with `tokens` > 0, the run's wall
/// time), cost = the step's (or run's) device-hours at the economics' price.
[[nodiscard]] Evaluate train_evaluation(const ModelSpec& model, const TrainingJob& job,
                                        const ParallelPlan& plan, double tokens,
                                        const Economics& economics);

/// The serving simulator on `config` (its accelerator replaced): time = makespan of the
/// workload, cost = $ per million generated tokens.
[[nodiscard]] Evaluate serve_evaluation(const ServeConfig& config);

/// A SystemSpec of one accelerator alone, for infer and serve (one node of its domain).
[[nodiscard]] SystemSpec single_chip_system(const AcceleratorSpec& hw);

}  // namespace xpusim

#pragma once
// What `xpusim train` prints: one step's object, the search's ranking, and the step's trace in
// the Chrome Trace Event Format (Perfetto, chrome://tracing).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "xpusim/train/budget.hpp"
#include "xpusim/train/search.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {

/// A plan as JSON (tp, pp, ..., zero) and in one line ("tp8 pp2 vpp1 cp1 ep1 dp4 mb1 rc:none
/// zero1").
[[nodiscard]] nlohmann::json plan_json(const ParallelPlan& plan);
[[nodiscard]] std::string plan_text(const ParallelPlan& plan);

[[nodiscard]] nlohmann::json training_json(const ModelSpec& model, const SystemSpec& system,
                                           const TrainingJob& job, const ParallelPlan& plan,
                                           const TrainingResult& result,
                                           const std::optional<TrainingBudget>& budget);
[[nodiscard]] std::string training_text(const ModelSpec& model, const SystemSpec& system,
                                        const TrainingJob& job, const ParallelPlan& plan,
                                        const TrainingResult& result,
                                        const std::optional<TrainingBudget>& budget);
[[nodiscard]] std::string search_text(const ModelSpec& model, const SystemSpec& system,
                                      const TrainingJob& job, const SearchResult& search);

/// One step's pipeline schedule: {length_s, truncated, ops: [{stage, chunk, micro_batch, pass,
/// start_s, end_s}]}, the earliest `max_ops` ops by start time (truncated says whether more).
[[nodiscard]] nlohmann::json training_schedule_json(
    const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
    const ParallelPlan& plan, const TrainingResult& result, std::size_t max_ops = 4096);

/// One step: a process per pipeline stage with a compute and a communication thread; pipeline
/// ops from the simulated schedule, then the exposed gradient reduction and the optimizer.
[[nodiscard]] nlohmann::json training_trace(const ModelSpec& model, const SystemSpec& system,
                                            const TrainingJob& job, const ParallelPlan& plan,
                                            const TrainingResult& result);

}  // namespace xpusim

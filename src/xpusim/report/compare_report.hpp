#pragma once
// What `xpusim compare` prints: the serving table (or the training one), with its placement,
// its one price basis and that basis's assumptions stated. No computation happens here.

#include <nlohmann/json.hpp>
#include <string>

#include "xpusim/study/compare.hpp"

namespace xpusim {

/// `xpusim compare --format json`: the workload, the price basis with its reason and
/// assumptions, and a row per chip (unit-suffixed keys; unrunnable rows carry `reason`).
[[nodiscard]] nlohmann::json compare_json(const ModelSpec& model, const CompareOptions& options,
                                          const CompareTable& table);
[[nodiscard]] std::string compare_text(const ModelSpec& model, const CompareOptions& options,
                                       const CompareTable& table);
/// The runnable rows only, one header line.
[[nodiscard]] std::string compare_csv(const CompareTable& table);

[[nodiscard]] nlohmann::json train_compare_json(const ModelSpec& model,
                                                const TrainCompareOptions& options,
                                                const TrainCompareTable& table);
[[nodiscard]] std::string train_compare_text(const ModelSpec& model,
                                             const TrainCompareOptions& options,
                                             const TrainCompareTable& table);
[[nodiscard]] std::string train_compare_csv(const TrainCompareTable& table);

}  // namespace xpusim

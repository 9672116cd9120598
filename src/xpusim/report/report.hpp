#pragma once
// Turning results into what people and programs read: JSON objects whose keys carry units,
// and text tables. No computation happens here.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xpusim/hw/accelerator.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/validate/validation.hpp"

namespace xpusim {

[[nodiscard]] nlohmann::json accelerator_json(const AcceleratorSpec& hw);
/// Every figure with its value and source, for `xpusim hw show`.
[[nodiscard]] std::string accelerator_text(const AcceleratorSpec& hw);
[[nodiscard]] std::string accelerator_list_text(const std::vector<AcceleratorSpec>& all);

/// `xpusim system show --format json`: counts, both fabrics with unit-suffixed keys, and every
/// figure with its source (those taken from the accelerator say so in `from_accelerator`).
[[nodiscard]] nlohmann::json system_json(const SystemSpec& system);
/// Every figure of one system with its source, for `xpusim system show`.
[[nodiscard]] std::string system_text(const SystemSpec& system);
[[nodiscard]] std::string system_list_text(const std::vector<SystemSpec>& all);

[[nodiscard]] nlohmann::json model_json(const ModelSpec& model);
[[nodiscard]] std::string model_text(const ModelSpec& model);
[[nodiscard]] std::string model_list_text(const std::vector<ModelSpec>& all);

/// The `xpusim infer --format json` object (see README, "Interface").
[[nodiscard]] nlohmann::json inference_json(const ModelSpec& model, const AcceleratorSpec& hw,
                                            const InferenceRequest& request,
                                            const InferenceResult& result);
[[nodiscard]] std::string inference_text(const ModelSpec& model, const AcceleratorSpec& hw,
                                         const InferenceRequest& request,
                                         const InferenceResult& result);

/// Predicted against measured, with the errors, the tolerance and the verdict.
[[nodiscard]] std::string validation_text(const ValidationReport& report);
/// `xpusim validate ... --format json`: rows, median and verdict of a published set.
[[nodiscard]] nlohmann::json validation_json(const ValidationReport& report);
/// The training development set: per record predicted, measured, error or "needs: X"; the
/// summary per family (records that run, then provisional ones) and the missing features.
[[nodiscard]] std::string dev_validation_text(const DevValidationReport& report);
[[nodiscard]] nlohmann::json dev_validation_json(const DevValidationReport& report);

}  // namespace xpusim

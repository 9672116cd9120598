#pragma once
// Published measurements held against predictions: data/validation/inference_public.json and
// training_public.json. A record names its own workload in its "xpusim" block; nothing in a
// record tunes the model.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xpusim {

struct ValidationOutcome {
  std::string id;
  std::string metric;  ///< "ttft_s", "tpot_s", "megatron_tflops_per_gpu"
  std::string detail;  ///< what xpusim chose where the record is silent (e.g. micro-batch)
  double measured = 0.0;
  double predicted = 0.0;
  [[nodiscard]] double relative_error() const { return (predicted - measured) / measured; }
};

struct ValidationReport {
  std::vector<ValidationOutcome> outcomes;
  /// Records that need a later capability (the serving simulator).
  std::vector<std::string> not_covered;
  std::string title;
  double per_row_tolerance = 0.0;
  double median_tolerance = 0.0;
  [[nodiscard]] double median_abs_error() const;
  [[nodiscard]] bool passed() const;
};

/// Predicts every record with an "xpusim" block, using the catalogs under `data_dir`.
[[nodiscard]] ValidationReport validate_inference(const std::filesystem::path& data_dir);

/// Predicts every training record with its own configuration and FLOP convention.
[[nodiscard]] ValidationReport validate_training(const std::filesystem::path& data_dir);

/// One record of the training development set (data/validation/training_dev.json).
struct DevOutcome {
  std::string id;
  std::string metric;  ///< "tokens_per_s_per_device" or "model_tflops_per_device"
  double measured = 0.0;
  /// Today's prediction; nullopt when the record cannot be evaluated (see `detail`). For a record
  /// with missing features it is provisional: today's closest approximation, never counted.
  std::optional<double> predicted;
  double tolerance = 0.0;
  std::string tolerance_reason;
  std::vector<std::string> missing;  ///< features of its "needs" the library lacks today
  std::string detail;                ///< why there is no prediction, or what xpusim noticed
  // The families the summary groups by.
  std::string accelerator;   ///< accelerator catalog id (or the record's system id)
  std::string precision;     ///< recipe name ("bf16", "fp8-current", "mxfp8", ...)
  std::string architecture;  ///< "dense" or "moe"
  std::string framework;     ///< the stack id's family ("torchtitan", "megatron-bridge", ...)
  [[nodiscard]] bool runs() const { return missing.empty() && predicted.has_value(); }
  [[nodiscard]] double relative_error() const {
    return (predicted.value_or(0.0) - measured) / measured;
  }
};

/// Counts and error statistics of one group of records.
struct ErrorSummary {
  std::string axis;    ///< "all", "accelerator", "precision", "architecture", "framework"
  std::string family;  ///< the group's value on that axis
  int count = 0;
  double median_abs_error = 0.0;
  double share_within_20pct = 0.0;  ///< share with |error| <= 0.20
  double share_within_25pct = 0.0;  ///< share with |error| <= 0.25 (the serving target)
  std::string worst_id;
  double worst_error = 0.0;  ///< signed relative error of the record with the largest |error|
};

/// The summary of (id, signed relative error) pairs; empty input gives count 0.
[[nodiscard]] ErrorSummary summarize_errors(
    const std::vector<std::pair<std::string, double>>& errors);

struct DevValidationReport {
  std::string title;
  std::vector<DevOutcome> outcomes;  ///< every record, in file order
  double target_median_abs_error = 0.0;
  double target_within = 0.20;       ///< the |error| the share target counts: 0.20 or 0.25
  double target_share_within = 0.0;  ///< share of records within target_within
  /// Records that run, overall and per family (axis "all" first).
  std::vector<ErrorSummary> summary;
  /// Every record with a prediction, provisional ones included, the same way.
  std::vector<ErrorSummary> provisional_summary;
  /// Missing feature -> records it blocks, most first (then by name).
  std::vector<std::pair<std::string, int>> blockers;
  /// The target over the records that run: median |error| and share within target_within.
  [[nodiscard]] bool target_met() const;
  /// The share of the counted records within target_within.
  [[nodiscard]] double share_within_target() const;
};

/// Fills a report's summaries and blockers from its outcomes.
void summarize_dev_report(DevValidationReport& report);

/// Summaries per axis of the outcomes `use` selects (the "all" row first, families by name).
[[nodiscard]] std::vector<ErrorSummary> summarize_by_family(const std::vector<DevOutcome>& outcomes,
                                                            bool include_provisional);

/// Evaluates every record of data/validation/inference_dev.json that today's serving simulator
/// can express (and provisionally those whose missing features are approximated).
[[nodiscard]] DevValidationReport validate_serving_dev(const std::filesystem::path& data_dir);

/// Evaluates every record of data/validation/training_dev.json whose needs today's library has
/// (and provisionally those whose missing features are approximated), with the catalogs under
/// `data_dir`.
[[nodiscard]] DevValidationReport validate_training_dev(const std::filesystem::path& data_dir);

}  // namespace xpusim

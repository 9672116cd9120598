#pragma once
// Published measurements held against predictions: data/validation/inference_public.json and
// training_public.json. A record names its own workload in its "xpusim" block; nothing in a
// record tunes the model.

#include <filesystem>
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

}  // namespace xpusim

#pragma once
// Published inference measurements held against predictions
// (data/validation/inference_public.json). A record names its own workload (model, accelerator,
// devices, batch, lengths, formats) in its "xpusim" block; nothing in a record tunes the model.

#include <filesystem>
#include <string>
#include <vector>

#include "xpusim/infer/inference.hpp"

namespace xpusim {

struct ValidationOutcome {
  std::string id;
  std::string metric;  ///< "ttft_s" or "tpot_s"
  double measured = 0.0;
  double predicted = 0.0;
  [[nodiscard]] double relative_error() const { return (predicted - measured) / measured; }
};

struct ValidationReport {
  std::vector<ValidationOutcome> outcomes;
  std::vector<std::string>
      not_covered;  ///< records that need a later capability (serving simulator)
  double per_row_tolerance = 0.0;
  double median_tolerance = 0.0;
  [[nodiscard]] double median_abs_error() const;
  [[nodiscard]] bool passed() const;
};

/// Predicts every record with an "xpusim" block, using the catalogs under `data_dir`.
[[nodiscard]] ValidationReport validate_inference(const std::filesystem::path& data_dir);

[[nodiscard]] std::string validation_text(const ValidationReport& report);

}  // namespace xpusim

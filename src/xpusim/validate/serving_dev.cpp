// The serving development set (data/validation/inference_dev.json): published serving results
// on current accelerators and engines, each record with its deployment, workload and measured
// figure. A record needs named features (features.hpp, kServingFeatures); those the library
// lacks are reported, never silently dropped. Parsing is strict.

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/validate/features.hpp"
#include "xpusim/validate/record_fields.hpp"
#include "xpusim/validate/serving_record.hpp"
#include "xpusim/validate/validation.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

/// The engine family from the record's software line.
std::string engine_of(const Json& record) {
  const auto software = record.value("software", std::string());
  for (const auto& [needle, family] : {std::pair{"TensorRT", "trtllm"},
                                       {"SGLang", "sglang"},
                                       {"vLLM", "vllm"},
                                       {"Gaudi", "gaudi-software"}}) {
    if (software.find(needle) != std::string::npos) return family;
  }
  return "other";
}

bool is_moe(const Json& record) {
  return record.contains("model") && record.at("model").contains("moe") &&
         !record.at("model").at("moe").is_null();
}

DevOutcome evaluate(const Json& record, const std::string& file,
                    const std::filesystem::path& data_dir) {
  const auto id = record_field<std::string>(record, "id", file + ": records[]");
  const std::string where = fmt::format("{}: records[{}]", file, id);
  check_keys(
      record,
      {"id", "category", "source", "quote", "model", "precision", "hardware", "parallelism",
       "software", "workload", "measured", "derived", "confidence", "tolerance", "notes", "xpusim"},
      where);
  for (const char* key : {"source", "quote", "xpusim"}) {
    if (!record.contains(key)) throw_input_error(where, key, "missing (required)");
  }
  const ServingRecord r = parse_serving_record(record.at("xpusim"), id, where + ".xpusim");
  if (!r.tolerance) throw_input_error(where + ".xpusim", "tolerance", "missing (required)");
  DevOutcome o;
  o.id = id;
  o.metric = r.metric;
  o.measured = r.measured;
  o.tolerance = *r.tolerance;
  o.tolerance_reason = r.tolerance_reason;
  o.accelerator = r.hw;
  o.precision = r.weight_dtype;
  o.architecture = is_moe(record) ? "moe" : "dense";
  o.framework = engine_of(record);
  bool expressible = true;
  for (const auto& need : r.needs) {
    const TrainingFeature* f = find_serving_feature(need);
    if (f->implemented) continue;
    o.missing.push_back(need);
    if (!f->approximated) expressible = false;
  }
  if (!expressible) {
    o.detail = "not expressible today";
    return o;
  }
  try {
    const ServingPrediction p = predict_serving_record(r, data_dir);
    o.predicted = p.value;
    o.detail = p.detail;
  } catch (const Error& e) {
    // A deployment the simulator refuses (does not fit, ...) is an answer, not a crash.
    if (e.kind() != Error::Kind::kInput) throw;
    o.detail = e.what();
  }
  return o;
}

}  // namespace

DevValidationReport validate_serving_dev(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "validation" / "inference_dev.json";
  const Json doc = read_validation_file(file);
  check_keys(doc, {"about", "tolerance", "records"}, file.string());
  const Json& tolerance = record_field<Json>(doc, "tolerance", file.string());
  const std::string tw = file.string() + ": tolerance";
  check_keys(tolerance, {"target_median_abs_error", "target_share_within_25pct"}, tw);
  DevValidationReport report;
  report.title = "Serving development set against published measurements (" + file.string() + ")";
  report.target_median_abs_error = record_field<double>(tolerance, "target_median_abs_error", tw);
  report.target_within = 0.25;
  report.target_share_within = record_field<double>(tolerance, "target_share_within_25pct", tw);
  std::vector<std::string> seen;
  for (const Json& record : record_field<Json>(doc, "records", file.string())) {
    DevOutcome o = evaluate(record, file.string(), data_dir);
    if (std::find(seen.begin(), seen.end(), o.id) != seen.end())
      throw_input_error(file.string(), "records", "duplicate id '" + o.id + "'");
    seen.push_back(o.id);
    report.outcomes.push_back(std::move(o));
  }
  summarize_dev_report(report);
  return report;
}

}  // namespace xpusim

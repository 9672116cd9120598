#include "xpusim/validate/record_fields.hpp"
#include "xpusim/validate/serving_record.hpp"
#include "xpusim/validate/validation.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

DType dtype_field(const Json& block, const char* key, const std::string& where) {
  const auto name = record_field<std::string>(block, key, where);
  const auto dtype = parse_dtype(name);
  if (!dtype) throw_input_error(where, key, "unknown data type '" + name + "'");
  return *dtype;
}

}  // namespace

double ValidationReport::median_abs_error() const {
  if (outcomes.empty()) return 0.0;
  std::vector<double> errors;
  for (const auto& o : outcomes) errors.push_back(std::abs(o.relative_error()));
  std::sort(errors.begin(), errors.end());
  const std::size_t n = errors.size();
  return n % 2 == 1 ? errors[n / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2.0;
}

bool ValidationReport::passed() const {
  const bool rows = std::all_of(outcomes.begin(), outcomes.end(), [&](const ValidationOutcome& o) {
    return std::abs(o.relative_error()) <= per_row_tolerance;
  });
  return !outcomes.empty() && rows && median_abs_error() <= median_tolerance;
}

ValidationReport validate_inference(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "validation" / "inference_public.json";
  const Json doc = read_validation_file(file);
  ValidationReport report;
  report.title = "Single-node inference against published measurements (" + file.string() + ")";
  const Json& tolerance = doc.at("tolerance");
  report.per_row_tolerance = tolerance.at("per_row_relative_error").get<double>();
  report.median_tolerance = tolerance.at("median_relative_error").get<double>();
  const Economics economics{};  // cost does not enter the validated metrics
  for (const Json& record : doc.at("records")) {
    const auto id = record.at("id").get<std::string>();
    if (!record.contains("xpusim")) {
      report.not_covered.push_back(id);
      continue;
    }
    const std::string where = fmt::format("{}: records[{}].xpusim", file.string(), id);
    const Json& x = record.at("xpusim");
    if (x.contains("workload")) {
      // A serving record (the MLPerf scenarios): run on the serving simulator.
      const ServingRecord serving = parse_serving_record(x, id, where);
      const ServingPrediction p = predict_serving_record(serving, data_dir);
      report.outcomes.push_back({id, serving.metric, p.detail, serving.measured, p.value});
      continue;
    }
    const ModelSpec model =
        load_model(record_field<std::string>(x, "model", where), data_dir / "models");
    const AcceleratorSpec hw =
        load_accelerator(record_field<std::string>(x, "hw", where), data_dir / "hardware");
    InferenceRequest request;
    request.devices = record_field<int>(x, "devices", where);
    request.batch = record_field<int64_t>(x, "batch", where);
    request.input_len = record_field<int64_t>(x, "input_len", where);
    request.output_len = record_field<int64_t>(x, "output_len", where);
    request.weight_dtype = dtype_field(x, "weight_dtype", where);
    request.kv_dtype = dtype_field(x, "kv_dtype", where);
    if (x.contains("weight_group_size"))
      request.weight_group_size = record_field<int>(x, "weight_group_size", where);
    if (x.contains("fused_gate_up"))
      request.fused_gate_up = record_field<bool>(x, "fused_gate_up", where);
    validate_request(model, hw, request);
    const InferenceResult result = estimate_inference(model, hw, request, economics);
    ValidationOutcome outcome;
    outcome.id = id;
    outcome.metric = record_field<std::string>(x, "metric", where);
    outcome.measured = record_field<double>(x, "measured_s", where);
    if (outcome.metric == "ttft_s") {
      outcome.predicted = result.ttft.value();
    } else if (outcome.metric == "tpot_s") {
      outcome.predicted = result.tpot.value();
    } else {
      throw_input_error(where, "metric", "expected ttft_s or tpot_s, got '" + outcome.metric + "'");
    }
    report.outcomes.push_back(outcome);
  }
  return report;
}

}  // namespace xpusim

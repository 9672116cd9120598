// A serving record's "xpusim" block, parsed strictly and run on the serving simulator.

#include "xpusim/validate/serving_record.hpp"

#include <fmt/format.h>

#include "xpusim/core/error.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/validate/features.hpp"
#include "xpusim/validate/record_fields.hpp"

namespace xpusim {

const TrainingFeature* find_serving_feature(std::string_view name) {
  for (const auto& f : kServingFeatures) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace {

using Json = nlohmann::json;

int positive_int(const Json& block, const char* key, const std::string& where, int fallback) {
  if (!block.contains(key)) return fallback;
  const int value = record_field<int>(block, key, where);
  if (value < 1) throw_input_error(where, key, fmt::format("expected >= 1, got {}", value));
  return value;
}

std::optional<int64_t> optional_count(const Json& block, const char* key,
                                      const std::string& where) {
  if (!block.contains(key) || block.at(key).is_null()) return std::nullopt;
  const auto value = record_field<int64_t>(block, key, where);
  if (value < 1) throw_input_error(where, key, fmt::format("expected >= 1, got {}", value));
  return value;
}

ServingWorkloadKind parse_kind(const std::string& name, const std::string& where) {
  if (name == "mlperf") return ServingWorkloadKind::kMlperf;
  if (name == "offline") return ServingWorkloadKind::kOffline;
  if (name == "concurrency") return ServingWorkloadKind::kConcurrency;
  if (name == "static_batch") return ServingWorkloadKind::kStaticBatch;
  throw_input_error(where, "kind",
                    "unknown workload kind '" + name + "'" +
                        did_you_mean(name, {"mlperf", "offline", "concurrency", "static_batch"}));
}

void parse_workload(const Json& w, const std::string& where, ServingRecord& r) {
  r.kind = parse_kind(record_field<std::string>(w, "kind", where), where);
  switch (r.kind) {
    case ServingWorkloadKind::kMlperf:
      check_keys(w, {"kind", "benchmark", "scenario", "rate"}, where);
      r.benchmark = record_field<std::string>(w, "benchmark", where);
      r.scenario = record_field<std::string>(w, "scenario", where);
      if (!parse_mlperf_scenario(r.scenario))
        throw_input_error(where, "scenario", "expected offline, server or interactive");
      if (!w.contains("rate")) throw_input_error(where, "rate", "missing (required; null: search)");
      if (!w.at("rate").is_null()) r.rate = record_field<double>(w, "rate", where);
      return;
    case ServingWorkloadKind::kOffline:
    case ServingWorkloadKind::kConcurrency:
    case ServingWorkloadKind::kStaticBatch:
      check_keys(w, {"kind", "num_requests", "input_len", "output_len", "concurrency"}, where);
      r.input_len = optional_count(w, "input_len", where).value_or(0);
      if (r.input_len < 1) throw_input_error(where, "input_len", "missing (required)");
      r.output_len = optional_count(w, "output_len", where).value_or(0);
      if (r.output_len < 1) throw_input_error(where, "output_len", "missing (required)");
      r.num_requests = optional_count(w, "num_requests", where).value_or(0);
      if (r.num_requests < 1) throw_input_error(where, "num_requests", "missing (required)");
      if (r.kind == ServingWorkloadKind::kConcurrency) {
        r.concurrency = optional_count(w, "concurrency", where).value_or(0);
        if (r.concurrency < 1) throw_input_error(where, "concurrency", "missing (required)");
      } else if (w.contains("concurrency")) {
        throw_input_error(where, "concurrency", "only with kind concurrency");
      }
      return;
  }
}

}  // namespace

ServingRecord parse_serving_record(const Json& x, const std::string& id, const std::string& where) {
  check_keys(x,
             {"model", "hw", "tp", "pp", "ep", "replicas", "weight_dtype", "kv_dtype", "engine",
              "workload", "metric", "measured", "tolerance", "needs", "assumptions"},
             where);
  ServingRecord r;
  r.id = id;
  r.model = record_field<std::string>(x, "model", where);
  r.hw = record_field<std::string>(x, "hw", where);
  r.tp = positive_int(x, "tp", where, 1);
  r.pp = positive_int(x, "pp", where, 1);
  r.ep = positive_int(x, "ep", where, 1);
  r.replicas = positive_int(x, "replicas", where, 1);
  r.weight_dtype = record_field<std::string>(x, "weight_dtype", where);
  r.kv_dtype = record_field<std::string>(x, "kv_dtype", where);
  for (const char* key : {"weight_dtype", "kv_dtype"}) {
    const auto name = record_field<std::string>(x, key, where);
    if (!parse_dtype(name)) throw_input_error(where, key, "unknown data type '" + name + "'");
  }
  if (x.contains("engine")) {
    const Json& e = x.at("engine");
    const std::string ew = where + ".engine";
    check_keys(e, {"scheduler", "max_batch", "max_batched_tokens", "gpu_memory_utilization"}, ew);
    if (e.contains("scheduler")) r.scheduler = record_field<std::string>(e, "scheduler", ew);
    if (!parse_scheduler(r.scheduler))
      throw_input_error(ew, "scheduler", "unknown scheduler '" + r.scheduler + "'");
    r.max_batch = optional_count(e, "max_batch", ew);
    r.max_batched_tokens = optional_count(e, "max_batched_tokens", ew);
    if (e.contains("gpu_memory_utilization"))
      r.gpu_memory_utilization = record_field<double>(e, "gpu_memory_utilization", ew);
  }
  parse_workload(record_field<Json>(x, "workload", where), where + ".workload", r);
  r.metric = record_field<std::string>(x, "metric", where);
  const std::vector<std::string> metrics = {"output_tokens_per_s", "output_tokens_per_s_per_device",
                                            "tokens_per_s"};
  if (std::find(metrics.begin(), metrics.end(), r.metric) == metrics.end())
    throw_input_error(where, "metric",
                      "unknown metric '" + r.metric + "'" + did_you_mean(r.metric, metrics));
  r.measured = record_field<double>(x, "measured", where);
  if (!(r.measured > 0)) throw_input_error(where, "measured", "expected > 0");
  if (x.contains("tolerance")) {
    const Json& t = x.at("tolerance");
    const std::string tw = where + ".tolerance";
    check_keys(t, {"relative_error", "reason"}, tw);
    r.tolerance = record_field<double>(t, "relative_error", tw);
    if (!(*r.tolerance > 0 && *r.tolerance < 1))
      throw_input_error(tw, "relative_error", "expected in (0, 1)");
    r.tolerance_reason = record_field<std::string>(t, "reason", tw);
  }
  if (x.contains("needs")) r.needs = record_field<std::vector<std::string>>(x, "needs", where);
  std::vector<std::string> names;
  for (const auto& f : kServingFeatures) names.emplace_back(f.name);
  for (const auto& need : r.needs) {
    if (!find_serving_feature(need))
      throw_input_error(where, "needs",
                        "unknown feature '" + need + "'" + did_you_mean(need, names));
  }
  if (r.ep > 1 &&
      std::find(r.needs.begin(), r.needs.end(), "expert-parallel-serving") == r.needs.end() &&
      !find_serving_feature("expert-parallel-serving")->implemented)
    throw_input_error(where, "ep", "ep > 1 needs the feature expert-parallel-serving");
  return r;
}

namespace {

ServeConfig config_of(const ServingRecord& r, const std::filesystem::path& data_dir) {
  ServeConfig c;
  c.model = load_model(r.model, data_dir / "models");
  c.hw = load_accelerator(r.hw, data_dir / "hardware");
  c.tensor_parallel = r.tp;
  c.pipeline_parallel = r.pp;
  c.replicas = r.replicas;
  c.weight_dtype = *parse_dtype(r.weight_dtype);
  c.kv_dtype = *parse_dtype(r.kv_dtype);
  c.scheduler = *parse_scheduler(r.scheduler);
  if (r.max_batch) c.limits.max_num_seqs = *r.max_batch;
  if (r.max_batched_tokens) c.limits.max_batched_tokens = *r.max_batched_tokens;
  if (r.gpu_memory_utilization) c.limits.gpu_memory_utilization = *r.gpu_memory_utilization;
  Workload& w = c.workload;
  w.num_requests = r.num_requests;
  w.input.kind = LengthDistribution::Kind::kFixed;
  w.input.a = static_cast<double>(r.input_len);
  w.input.text = fmt::format("fixed:{}", r.input_len);
  w.output.kind = LengthDistribution::Kind::kFixed;
  w.output.a = static_cast<double>(r.output_len);
  w.output.text = fmt::format("fixed:{}", r.output_len);
  switch (r.kind) {
    case ServingWorkloadKind::kMlperf:
    case ServingWorkloadKind::kOffline:
      w.arrival = ArrivalKind::kOffline;
      break;
    case ServingWorkloadKind::kConcurrency:
      w.arrival = ArrivalKind::kClosedLoop;
      w.concurrency = r.concurrency;
      break;
    case ServingWorkloadKind::kStaticBatch:
      // One batch of num_requests equal requests, admitted together.
      w.arrival = ArrivalKind::kOffline;
      c.scheduler = SchedulerKind::kStatic;
      c.limits.max_num_seqs = r.num_requests;
      break;
  }
  return c;
}

double metric_of(const ServingRecord& r, const ServeConfig& c, double tokens_per_s) {
  if (r.metric == "output_tokens_per_s_per_device")
    return tokens_per_s / static_cast<double>(devices_of(c));
  return tokens_per_s;
}

}  // namespace

ServingPrediction predict_serving_record(const ServingRecord& r,
                                         const std::filesystem::path& data_dir) {
  const ServeConfig c = config_of(r, data_dir);
  ServingPrediction p;
  if (r.kind == ServingWorkloadKind::kMlperf) {
    const MlperfBenchmark benchmark = load_mlperf_benchmark(r.benchmark, data_dir);
    const MlperfRun run = run_mlperf(c, benchmark, *parse_mlperf_scenario(r.scenario), r.rate);
    p.value = metric_of(r, c, run.tokens_per_s);
    p.detail =
        run.limits
            ? fmt::format("{:.2f} q/s, p99 TTFT {:.2f} s, TPOT {:.0f} ms{}", run.target_qps,
                          run.result.ttft.p99.value(), run.result.tpot.p99.value() * 1e3,
                          run.latency_met ? "" : " (limits not met)")
            : fmt::format("{} samples, {:.0f} s", run.samples_issued, run.result.makespan.value());
    return p;
  }
  const ServeResult result = simulate(c);
  p.value = metric_of(r, c, result.throughput_tokens_per_s);
  p.detail =
      fmt::format("batch {:.0f} mean, {} preemptions", result.batch_size_mean, result.preemptions);
  return p;
}

}  // namespace xpusim

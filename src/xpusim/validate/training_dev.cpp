// The training development set (data/validation/training_dev.json): current accelerators and
// stacks, each record with its own model, system, plan, batch, recipe and measured figure. A
// record needs named features (features.hpp); those the library lacks are reported, never
// silently dropped. Parsing is strict: an unknown key is an error with a suggestion.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/train/search.hpp"
#include "xpusim/train/training.hpp"
#include "xpusim/validate/features.hpp"
#include "xpusim/validate/record_fields.hpp"
#include "xpusim/validate/validation.hpp"

namespace xpusim {

const TrainingFeature* find_training_feature(std::string_view name) {
  for (const auto& f : kTrainingFeatures) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace {

using Json = nlohmann::json;

/// A key that must be present and may be null (the source does not say).
std::optional<int64_t> nullable_int(const Json& block, const char* key, const std::string& where) {
  if (!block.contains(key)) throw_input_error(where, key, "missing (required; null when unstated)");
  if (block.at(key).is_null()) return std::nullopt;
  const int64_t value = record_field<int64_t>(block, key, where);
  if (value < 0) throw_input_error(where, key, fmt::format("expected >= 0, got {}", value));
  return value;
}

constexpr std::array kRecipes = {"bf16",          "fp8-delayed", "fp8-current",
                                 "fp8-blockwise", "mxfp8",       "nvfp4"};

/// Everything a record's "xpusim" block says, parsed once.
struct DevRecord {
  std::string id;
  std::string model;
  std::string system;
  int nodes = 0;
  std::optional<int64_t> tp, pp, vpp, cp, ep, dp, micro_batch;
  Recompute recompute = Recompute::kNone;
  int zero_stage = 0;
  bool sp = false;
  std::string pipeline_layout;  ///< Megatron layout string; empty: an even split
  bool offload_activations = false;
  std::optional<int64_t> global_batch;
  int64_t seq_len = 0;
  std::string recipe;
  std::string stack;
  bool fused_attention = true;
  bool overlap_dp_comm = true;
  bool overlap_tp_comm = false;
  int lora_rank = 0;
  std::string metric;
  double measured = 0.0;
  double tolerance = 0.0;
  std::string tolerance_reason;
  std::vector<std::string> needs;
  bool moe = false;
};

DevRecord parse_record(const Json& record, const std::string& file) {
  DevRecord r;
  r.id = record_field<std::string>(record, "id", file + ": records[]");
  const std::string where = fmt::format("{}: records[{}]", file, r.id);
  check_keys(
      record,
      {"id", "source", "source_ref", "quote", "model", "architecture", "precision", "hardware",
       "parallelism", "batch", "measured", "derived", "confidence", "notes", "xpusim"},
      where);
  for (const char* key : {"source", "source_ref", "quote", "confidence", "xpusim"}) {
    if (!record.contains(key)) throw_input_error(where, key, "missing (required)");
  }
  r.moe = record.contains("architecture") && record.at("architecture").contains("moe") &&
          !record.at("architecture").at("moe").is_null();
  const Json& x = record.at("xpusim");
  const std::string xw = where + ".xpusim";
  check_keys(
      x, {"model", "system", "nodes", "plan", "job", "measured", "tolerance", "needs", "derived"},
      xw);
  r.model = record_field<std::string>(x, "model", xw);
  r.system = record_field<std::string>(x, "system", xw);
  r.nodes = record_field<int>(x, "nodes", xw);
  if (r.nodes < 1) throw_input_error(xw, "nodes", fmt::format("expected >= 1, got {}", r.nodes));
  (void)record_field<std::vector<std::string>>(x, "derived", xw);

  const Json& plan = record_field<Json>(x, "plan", xw);
  const std::string pw = xw + ".plan";
  check_keys(plan,
             {"tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch", "recompute", "zero_stage", "sp",
              "pipeline_layout", "offload_activations"},
             pw);
  r.tp = nullable_int(plan, "tp", pw);
  r.pp = nullable_int(plan, "pp", pw);
  r.vpp = nullable_int(plan, "vpp", pw);
  r.cp = nullable_int(plan, "cp", pw);
  r.ep = nullable_int(plan, "ep", pw);
  r.dp = nullable_int(plan, "dp", pw);
  r.micro_batch = nullable_int(plan, "micro_batch", pw);
  const auto recompute = parse_recompute(record_field<std::string>(plan, "recompute", pw));
  if (!recompute) throw_input_error(pw, "recompute", "expected none, selective or full");
  r.recompute = *recompute;
  r.zero_stage = record_field<int>(plan, "zero_stage", pw);
  r.sp = record_field<bool>(plan, "sp", pw);
  if (plan.contains("pipeline_layout"))
    r.pipeline_layout = record_field<std::string>(plan, "pipeline_layout", pw);
  if (plan.contains("offload_activations"))
    r.offload_activations = record_field<bool>(plan, "offload_activations", pw);

  const Json& job = record_field<Json>(x, "job", xw);
  const std::string jw = xw + ".job";
  check_keys(job,
             {"global_batch", "seq_len", "recipe", "stack", "fused_attention", "overlap_dp_comm",
              "overlap_tp_comm", "lora_rank"},
             jw);
  r.global_batch = nullable_int(job, "global_batch", jw);
  r.seq_len = record_field<int64_t>(job, "seq_len", jw);
  if (r.seq_len < 1) throw_input_error(jw, "seq_len", "expected >= 1");
  r.recipe = record_field<std::string>(job, "recipe", jw);
  if (std::find(kRecipes.begin(), kRecipes.end(), r.recipe) == kRecipes.end()) {
    throw_input_error(jw, "recipe",
                      "unknown recipe '" + r.recipe + "'" +
                          did_you_mean(r.recipe, {kRecipes.begin(), kRecipes.end()}));
  }
  r.stack = record_field<std::string>(job, "stack", jw);
  r.fused_attention = record_field<bool>(job, "fused_attention", jw);
  r.overlap_dp_comm = record_field<bool>(job, "overlap_dp_comm", jw);
  r.overlap_tp_comm = record_field<bool>(job, "overlap_tp_comm", jw);
  if (job.contains("lora_rank")) r.lora_rank = record_field<int>(job, "lora_rank", jw);
  if (r.lora_rank < 0) throw_input_error(jw, "lora_rank", "expected >= 0");

  const Json& measured = record_field<Json>(x, "measured", xw);
  const std::string mw = xw + ".measured";
  check_keys(measured, {"metric", "value", "flop_convention"}, mw);
  r.metric = record_field<std::string>(measured, "metric", mw);
  r.measured = record_field<double>(measured, "value", mw);
  if (!(r.measured > 0)) throw_input_error(mw, "value", "expected > 0");
  if (!measured.contains("flop_convention"))
    throw_input_error(mw, "flop_convention", "missing (required; null for token rates)");
  if (r.metric == "model_tflops_per_device") {
    // xpusim's model FLOPs: 6N + 12 L H Q T per token, full (non-causal) attention, no
    // recomputation: Megatron-LM's and NeMo's model-FLOP count.
    if (!measured.at("flop_convention").is_string() ||
        measured.at("flop_convention").get<std::string>() != "megatron-model")
      throw_input_error(mw, "flop_convention", "expected \"megatron-model\" for model TFLOP/s");
  } else if (r.metric == "tokens_per_s_per_device") {
    if (!measured.at("flop_convention").is_null())
      throw_input_error(mw, "flop_convention", "expected null for a token rate");
  } else {
    throw_input_error(
        mw, "metric",
        "unknown metric '" + r.metric + "'" +
            did_you_mean(r.metric, {"tokens_per_s_per_device", "model_tflops_per_device"}));
  }

  const Json& tolerance = record_field<Json>(x, "tolerance", xw);
  const std::string tw = xw + ".tolerance";
  check_keys(tolerance, {"relative_error", "reason"}, tw);
  r.tolerance = record_field<double>(tolerance, "relative_error", tw);
  if (!(r.tolerance > 0 && r.tolerance < 1))
    throw_input_error(tw, "relative_error", "expected in (0, 1)");
  r.tolerance_reason = record_field<std::string>(tolerance, "reason", tw);

  r.needs = record_field<std::vector<std::string>>(x, "needs", xw);
  std::vector<std::string> names;
  for (const auto& f : kTrainingFeatures) names.emplace_back(f.name);
  for (const auto& need : r.needs) {
    if (!find_training_feature(need))
      throw_input_error(xw, "needs", "unknown feature '" + need + "'" + did_you_mean(need, names));
  }
  return r;
}

std::string framework_of(const std::string& stack) {
  for (const char* family : {"torchtitan", "megatron-bridge", "megatron-core-nemo", "nemo-rocm",
                             "maxtext", "optimum-habana"}) {
    if (stack.rfind(family, 0) == 0) return family;
  }
  return stack;
}

/// The catalog stack (data/stacks/) whose data-parallel and MoE-dispatch behaviour a record's
/// framework release shares: all torchtitan releases of the set run FSDP2 alike, MaxText its XLA
/// FSDP, Megatron releases the distributed optimizer. nullopt: none in the catalog.
std::optional<std::string> catalog_stack_of(const std::string& framework) {
  if (framework == "torchtitan") return "torchtitan-2025-06";
  if (framework == "maxtext") return "maxtext-2024";
  if (framework == "megatron-bridge") return "megatron-bridge-26.05";
  if (framework == "megatron-core-nemo") return "nemo-24.07";
  return std::nullopt;
}

/// The job's data-parallel schedule and MoE dispatcher from the record's stack.
void apply_stack(TrainingJob& job, const std::string& framework,
                 const std::filesystem::path& data_dir) {
  const auto id = catalog_stack_of(framework);
  if (!id) return;
  const StackSpec stack = load_stack(*id, data_dir / "stacks");
  if (!stack.training) return;
  job.data_parallel = stack.training->data_parallel;
  job.moe_dispatch = stack.training->moe;
}

/// The GEMM data type that stands in for a recipe until recipes are modelled.
PrecisionRecipe recipe_for(const std::string& recipe) {
  if (auto parsed = parse_precision_recipe(recipe)) return *parsed;
  return PrecisionRecipe::kFp8Delayed;  // a recipe named by its framework, tensorwise FP8
}

DevOutcome finish_record(DevOutcome o, const DevRecord& r, const ModelSpec& model,
                         const SystemSpec& system, const TrainingJob& job,
                         const ParallelPlan& plan);

bool needs(const DevRecord& r, std::string_view feature) {
  return std::find(r.needs.begin(), r.needs.end(), feature) != r.needs.end();
}

/// The fastest fitting plan that keeps every degree the record does state (cp, ep, micro-batch,
/// recomputation where given): the stand-in for a plan the source leaves out. An upper bound on
/// what a tuned run reaches, which is why such records carry the wider tolerance.
std::optional<ParallelPlan> searched_plan(const ModelSpec& model, const SystemSpec& system,
                                          const TrainingJob& job, const DevRecord& r) {
  SearchOptions options;
  options.top_k = 1000;
  options.threads = 1;  // the runner already spreads records over the cores
  const SearchResult found = search_training(model, system, job, options);
  for (const RankedPlan& ranked : found.best) {
    const ParallelPlan& p = ranked.plan;
    const auto keeps = [](const std::optional<int64_t>& stated, int64_t value) {
      return !stated || *stated == value;
    };
    if (!ranked.result.fits) continue;
    if (keeps(r.tp, p.tp) && keeps(r.pp, p.pp) && keeps(r.cp, p.cp) && keeps(r.ep, p.ep) &&
        keeps(r.micro_batch, p.micro_batch) && keeps(r.dp, p.dp))
      return p;
  }
  return std::nullopt;
}

/// The outcome of one parsed record: evaluated when its inputs allow it.
DevOutcome evaluate_record(const DevRecord& r, const std::filesystem::path& data_dir) {
  DevOutcome o;
  o.id = r.id;
  o.metric = r.metric;
  o.measured = r.measured;
  o.tolerance = r.tolerance;
  o.tolerance_reason = r.tolerance_reason;
  o.precision = r.recipe;
  o.architecture = r.moe ? "moe" : "dense";
  o.framework = framework_of(r.stack);
  o.accelerator = r.system;
  bool expressible = true;
  for (const auto& need : r.needs) {
    const TrainingFeature* f = find_training_feature(need);
    if (f->implemented) continue;
    o.missing.push_back(need);
    if (!f->approximated) expressible = false;
  }
  const bool complete =
      r.tp && r.pp && r.vpp && r.cp && r.ep && r.dp && r.micro_batch && r.global_batch;
  const std::string where = fmt::format("{}: records[{}].xpusim", "training_dev.json", r.id);
  const bool searchable = !complete && needs(r, "unstated-plan") && r.global_batch &&
                          find_training_feature("unstated-plan")->implemented;
  if (!complete && !searchable) {
    if (o.missing.empty())
      throw_input_error(where, "plan", "a value is null but the record names no missing feature");
    o.detail = "plan not stated";
    return o;
  }
  if (!expressible) {
    o.detail = "not expressible today";
    return o;
  }
  const SystemSpec system =
      with_nodes(load_system(r.system, data_dir / "systems", data_dir / "hardware"), r.nodes);
  o.accelerator = system.accelerator.id;
  const ModelSpec model = load_model(r.model, data_dir / "models");
  TrainingJob job;
  job.global_batch = *r.global_batch;
  job.seq_len = r.seq_len;
  job.recipe = recipe_for(r.recipe);
  job.fused_attention = r.fused_attention;
  job.overlap_dp_comm = r.overlap_dp_comm;
  job.overlap_tp_comm = r.overlap_tp_comm;
  apply_stack(job, o.framework, data_dir);
  // The record's configuration gathers fp8 weights (torchao float8 FSDP all-gather).
  job.data_parallel.fp8_all_gather =
      std::find(r.needs.begin(), r.needs.end(), "fsdp-fp8-allgather") != r.needs.end();
  job.lora_rank = r.lora_rank;
  if (searchable) {
    const auto plan = searched_plan(model, system, job, r);
    if (!plan) {
      o.detail = "plan search: no fitting plan keeps the stated degrees";
      return o;
    }
    DevOutcome searched = finish_record(o, r, model, system, job, *plan);
    const std::string chosen = fmt::format(
        "plan searched: tp {} pp {} dp {} micro-batch {} recompute {} zero {}", plan->tp, plan->pp,
        plan->dp, plan->micro_batch, to_string(plan->recompute), plan->zero_stage);
    searched.detail = searched.detail.empty() ? chosen : chosen + "; " + searched.detail;
    return searched;
  }
  ParallelPlan plan;
  plan.tp = static_cast<int>(*r.tp);
  plan.pp = static_cast<int>(*r.pp);
  plan.vpp = static_cast<int>(*r.vpp);
  plan.cp = static_cast<int>(*r.cp);
  plan.ep = static_cast<int>(*r.ep);
  plan.dp = static_cast<int>(*r.dp);
  plan.micro_batch = *r.micro_batch;
  plan.recompute = r.recompute;
  plan.zero_stage = r.zero_stage;
  plan.sequence_parallel = r.sp;
  plan.offload_activations = r.offload_activations;
  if (!r.pipeline_layout.empty()) {
    try {
      plan.layout = parse_pipeline_layout(r.pipeline_layout);
    } catch (const Error& e) {
      throw_input_error(where + ".plan", "pipeline_layout", e.what());
    }
  }
  if (const auto problem = plan_problem(model, system, job, plan)) {
    if (o.missing.empty()) throw_input_error(where, "plan", *problem);
    o.detail = "plan: " + *problem;
    return o;
  }
  return finish_record(o, r, model, system, job, plan);
}

DevOutcome finish_record(DevOutcome o, const DevRecord& r, const ModelSpec& model,
                         const SystemSpec& system, const TrainingJob& job,
                         const ParallelPlan& plan) {
  const TrainingResult result = evaluate_training(model, system, job, plan);
  o.predicted = r.metric == "model_tflops_per_device"
                    ? result.model_tflops_per_device
                    : result.tokens_per_s / static_cast<double>(system.devices());
  if (!result.fits) {
    o.detail =
        fmt::format("xpusim: does not fit ({:.1f} of {:.1f} GB)",
                    result.memory.total().value() / 1e9, result.memory_capacity.value() / 1e9);
  }
  return o;
}

}  // namespace

ErrorSummary summarize_errors(const std::vector<std::pair<std::string, double>>& errors) {
  ErrorSummary s;
  s.count = static_cast<int>(errors.size());
  if (errors.empty()) return s;
  std::vector<double> magnitudes;
  magnitudes.reserve(errors.size());
  int within = 0;
  int within_25 = 0;
  for (const auto& [id, error] : errors) {
    const double m = std::abs(error);
    magnitudes.push_back(m);
    if (m <= 0.20) ++within;
    if (m <= 0.25) ++within_25;
    if (s.worst_id.empty() || m > std::abs(s.worst_error)) {
      s.worst_id = id;
      s.worst_error = error;
    }
  }
  std::sort(magnitudes.begin(), magnitudes.end());
  const std::size_t n = magnitudes.size();
  s.median_abs_error =
      n % 2 == 1 ? magnitudes[n / 2] : (magnitudes[n / 2 - 1] + magnitudes[n / 2]) / 2.0;
  s.share_within_20pct = static_cast<double>(within) / static_cast<double>(n);
  s.share_within_25pct = static_cast<double>(within_25) / static_cast<double>(n);
  return s;
}

std::vector<ErrorSummary> summarize_by_family(const std::vector<DevOutcome>& outcomes,
                                              bool include_provisional) {
  using Family = std::string (*)(const DevOutcome&);
  const std::pair<const char*, Family> axes[] = {
      {"all", [](const DevOutcome&) { return std::string("all"); }},
      {"accelerator", [](const DevOutcome& o) { return o.accelerator; }},
      {"precision", [](const DevOutcome& o) { return o.precision; }},
      {"architecture", [](const DevOutcome& o) { return o.architecture; }},
      {"framework", [](const DevOutcome& o) { return o.framework; }},
  };
  std::vector<ErrorSummary> out;
  for (const auto& [axis, family_of] : axes) {
    std::map<std::string, std::vector<std::pair<std::string, double>>> groups;
    for (const auto& o : outcomes) {
      if (!o.predicted || (!include_provisional && !o.runs())) continue;
      groups[family_of(o)].emplace_back(o.id, o.relative_error());
    }
    if (groups.empty() && std::string_view(axis) == "all") groups["all"];
    for (const auto& [family, errors] : groups) {
      ErrorSummary s = summarize_errors(errors);
      s.axis = axis;
      s.family = family;
      out.push_back(s);
    }
  }
  return out;
}

double DevValidationReport::share_within_target() const {
  if (summary.empty()) return 0.0;
  return target_within == 0.25 ? summary.front().share_within_25pct
                               : summary.front().share_within_20pct;
}

bool DevValidationReport::target_met() const {
  if (summary.empty() || summary.front().count == 0) return false;
  return summary.front().median_abs_error <= target_median_abs_error &&
         share_within_target() >= target_share_within;
}

void summarize_dev_report(DevValidationReport& report) {
  std::map<std::string, int> blocked;
  for (const auto& o : report.outcomes) {
    for (const auto& need : o.missing) ++blocked[need];
  }
  report.summary = summarize_by_family(report.outcomes, false);
  report.provisional_summary = summarize_by_family(report.outcomes, true);
  report.blockers.assign(blocked.begin(), blocked.end());
  std::stable_sort(report.blockers.begin(), report.blockers.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
}

DevValidationReport validate_training_dev(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "validation" / "training_dev.json";
  const Json doc = read_validation_file(file);
  check_keys(doc, {"about", "rules", "tolerance", "records"}, file.string());
  const Json& tolerance = record_field<Json>(doc, "tolerance", file.string());
  const std::string tw = file.string() + ": tolerance";
  check_keys(tolerance,
             {"default_relative_error", "target_median_abs_error", "target_share_within_20pct"},
             tw);
  DevValidationReport report;
  report.title = "Training development set against published measurements (" + file.string() + ")";
  report.target_median_abs_error = record_field<double>(tolerance, "target_median_abs_error", tw);
  report.target_share_within = record_field<double>(tolerance, "target_share_within_20pct", tw);
  std::vector<std::string> seen;
  for (const Json& record : record_field<Json>(doc, "records", file.string())) {
    const DevRecord r = parse_record(record, file.string());
    if (std::find(seen.begin(), seen.end(), r.id) != seen.end())
      throw_input_error(file.string(), "records", "duplicate id '" + r.id + "'");
    seen.push_back(r.id);
    report.outcomes.push_back(evaluate_record(r, data_dir));
  }
  summarize_dev_report(report);
  return report;
}

}  // namespace xpusim

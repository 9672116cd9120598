// Training records (data/validation/training_public.json): each record's own model, system,
// plan and FLOP convention. Where the record is silent (micro-batch, virtual stages) the
// fastest plan that fits among the values Megatron-LM allows stands in for the authors' tuning.

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/train/training.hpp"
#include "xpusim/validate/record_fields.hpp"
#include "xpusim/validate/validation.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

struct Best {
  ParallelPlan plan;
  TrainingResult result;
  bool found = false;
};

/// The fastest fitting plan among the unstated knobs, the stated ones fixed.
Best best_plan(const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
               ParallelPlan plan, const std::vector<int64_t>& micro_batches) {
  Best best;
  const int64_t per_stage = model.layers / plan.pp;
  for (int64_t mb : micro_batches) {
    for (int vpp = 1; vpp <= (plan.pp > 1 ? 8 : 1); ++vpp) {
      if (per_stage % vpp != 0) continue;
      plan.micro_batch = mb;
      plan.vpp = vpp;
      if (!plan_is_valid(model, system, job, plan)) continue;
      const TrainingResult r = evaluate_training(model, system, job, plan);
      if (!r.fits) continue;
      if (!best.found || r.step_time < best.result.step_time) best = {plan, r, true};
    }
  }
  return best;
}

}  // namespace

ValidationReport validate_training(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "validation" / "training_public.json";
  const Json doc = read_validation_file(file);
  ValidationReport report;
  report.title = "Training at scale against published measurements (" + file.string() + ")";
  report.per_row_tolerance = doc.at("tolerance").at("per_row_relative_error").get<double>();
  report.median_tolerance = doc.at("tolerance").at("median_relative_error").get<double>();
  for (const Json& record : doc.at("records")) {
    const auto id = record.at("id").get<std::string>();
    const std::string where = fmt::format("{}: records[{}].xpusim", file.string(), id);
    if (!record.contains("xpusim")) {
      report.not_covered.push_back(id);
      continue;
    }
    const Json& x = record.at("xpusim");
    const ModelSpec model =
        load_model_file(data_dir / record_field<std::string>(x, "model", where));
    const SystemSpec system = with_nodes(load_system(record_field<std::string>(x, "system", where),
                                                     data_dir / "systems", data_dir / "hardware"),
                                         record_field<int>(x, "nodes", where));
    TrainingJob job;
    job.global_batch = record_field<int64_t>(x, "global_batch", where);
    job.seq_len = record_field<int64_t>(x, "seq_len", where);
    job.fused_attention = record_field<bool>(x, "fused_attention", where);
    job.overlap_dp_comm = record_field<bool>(x, "overlap_dp_comm", where);
    const auto recipe = parse_precision_recipe(record_field<std::string>(x, "precision", where));
    if (!recipe)
      throw_input_error(where, "precision", "expected a precision recipe (bf16, fp8-delayed, ...)");
    job.recipe = *recipe;
    ParallelPlan plan;
    plan.tp = record_field<int>(x, "tp", where);
    plan.pp = record_field<int>(x, "pp", where);
    plan.dp = system.devices() / (plan.tp * plan.pp);
    const auto recompute = parse_recompute(record_field<std::string>(x, "recompute", where));
    if (!recompute) throw_input_error(where, "recompute", "expected none, selective or full");
    plan.recompute = *recompute;
    const auto micro_batches =
        record_field<std::vector<int64_t>>(x.at("search"), "micro_batch", where + ".search");
    const Best best = best_plan(model, system, job, plan, micro_batches);
    ValidationOutcome outcome;
    outcome.id = id;
    outcome.metric = record_field<std::string>(x, "metric", where);
    outcome.measured = record_field<double>(x, "measured", where);
    if (!best.found) {
      outcome.predicted = 0.0;
      outcome.detail = "no plan fits";
    } else {
      // The record's own convention: Megatron's eq. 3 FLOPs over the step, per GPU.
      const double flops = megatron_flops_per_step(model, job.global_batch, job.seq_len);
      outcome.predicted = flops / best.result.step_time.value() / system.devices() / 1e12;
      outcome.detail = fmt::format("micro-batch {}, vpp {}", best.plan.micro_batch, best.plan.vpp);
    }
    report.outcomes.push_back(outcome);
  }
  return report;
}

}  // namespace xpusim

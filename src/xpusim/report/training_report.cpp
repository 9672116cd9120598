#include "xpusim/report/training_report.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "xpusim/report/table.hpp"
#include "xpusim/train/schedule.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

}  // namespace

Json plan_json(const ParallelPlan& p) {
  return {
      {"tp", p.tp},
      {"pp", p.pp},
      {"vpp", p.vpp},
      {"cp", p.cp},
      {"ep", p.ep},
      {"dp", p.dp},
      {"sp", p.sequence_parallel},
      {"micro_batch", p.micro_batch},
      {"recompute", std::string(to_string(p.recompute))},
      {"zero", p.zero_stage},
      {"first_stage_layers", p.first_stage_layers ? Json(*p.first_stage_layers) : Json(nullptr)},
      {"last_stage_layers", p.last_stage_layers ? Json(*p.last_stage_layers) : Json(nullptr)},
      {"pipeline_layout", p.layout.empty() ? Json(nullptr) : Json(to_string(p.layout))},
      {"offload_optimizer", p.offload_optimizer},
      {"offload_activations", p.offload_activations}};
}

std::string plan_text(const ParallelPlan& p) {
  std::string out = fmt::format("tp{} pp{} vpp{} cp{} ep{} dp{}{} mb{} rc:{} zero{}", p.tp, p.pp,
                                p.vpp, p.cp, p.ep, p.dp, p.sequence_parallel ? " sp" : "",
                                p.micro_batch, to_string(p.recompute), p.zero_stage);
  if (p.first_stage_layers) out += fmt::format(" first{}", *p.first_stage_layers);
  if (p.last_stage_layers) out += fmt::format(" last{}", *p.last_stage_layers);
  if (!p.layout.empty()) out += " layout:" + to_string(p.layout);
  if (p.offload_optimizer) out += " offload:opt";
  if (p.offload_activations) out += " offload:act";
  return out;
}

namespace {

std::vector<std::pair<const char*, Seconds>> breakdown_items(const StepBreakdown& b) {
  return {{"forward_s", b.forward},     {"backward_s", b.backward},
          {"recompute_s", b.recompute}, {"tp_comm_s", b.tp_comm},
          {"cp_comm_s", b.cp_comm},     {"ep_comm_s", b.ep_comm},
          {"pp_comm_s", b.pp_comm},     {"pipeline_bubble_s", b.pipeline_bubble},
          {"dp_comm_s", b.dp_comm},     {"optimizer_s", b.optimizer},
          {"offload_s", b.offload}};
}

std::string notes_text(const SystemSpec& system, const TrainingJob& job) {
  std::string out;
  for (const auto& note : system.notes) out += fmt::format("  note: {}\n", note);
  for (const auto& note : job.notes) out += fmt::format("  note: {}\n", note);
  return out;
}

}  // namespace

Json training_json(const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
                   const ParallelPlan& plan, const TrainingResult& r,
                   const std::optional<TrainingBudget>& budget) {
  Json breakdown = Json::object();
  for (const auto& [key, value] : breakdown_items(r.breakdown)) breakdown[key] = value.value();
  Json j = {{"model", model.id},
            {"system", system.id},
            {"devices", system.devices()},
            {"global_batch", job.global_batch},
            {"seq_len", job.seq_len},
            {"precision", std::string(to_string(job.recipe))},
            {"stack", job.stack},
            {"job_notes", job.notes},
            {"plan", plan_json(plan)},
            {"micro_batches", r.micro_batches},
            {"step_time_s", r.step_time.value()},
            {"tokens_per_s", r.tokens_per_s},
            {"model_tflops_per_device", r.model_tflops_per_device},
            {"mfu", r.mfu},
            {"hfu", r.hfu},
            {"memory_per_device_bytes", r.memory.total().value()},
            {"memory_capacity_per_device_bytes", r.memory_capacity.value()},
            {"memory_margin_bytes", (r.memory_capacity - r.memory.total()).value()},
            {"memory_breakdown_bytes",
             {{"weights", r.memory.weights.value()},
              {"gradients", r.memory.gradients.value()},
              {"optimizer_states", r.memory.optimizer_states.value()},
              {"activations", r.memory.activations.value()},
              {"comm_buffers", r.memory.comm_buffers.value()},
              {"workspace", r.memory.workspace.value()}}},
            {"memory_stage", r.memory.stage},
            {"host_memory_per_device_bytes", r.memory.host.value()},
            {"slowest_stage", r.slowest_stage},
            {"system_notes", system.notes},
            {"fits", r.fits},
            {"breakdown", breakdown}};
  if (budget) {
    j["budget"] = {
        {"tokens", budget->tokens},
        {"wall_time_s", budget->wall_time.value()},
        {"device_hours", budget->device_hours},
        {"energy_j", budget->energy.value()},
        {"cost_usd", budget->cost_usd ? Json(*budget->cost_usd) : Json(nullptr)},
        {"cost_basis", budget->cost_basis.empty() ? Json(nullptr) : Json(budget->cost_basis)}};
  }
  return j;
}

std::string training_text(const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
                          const ParallelPlan& plan, const TrainingResult& r,
                          const std::optional<TrainingBudget>& budget) {
  std::string out =
      fmt::format("{} on {} ({} x {}), global batch {} x {} tokens, {}: {}\n", model.id, system.id,
                  system.devices(), system.accelerator.id, job.global_batch, job.seq_len,
                  to_string(job.recipe), plan_text(plan));
  out += fmt::format("  step time        {:10.3f} s ({} micro-batches per replica)\n",
                     r.step_time.value(), r.micro_batches);
  out += fmt::format("  throughput       {:10.0f} tokens/s\n", r.tokens_per_s);
  out += fmt::format("  model TFLOP/s    {:10.1f} per device, MFU {:.1f}%, HFU {:.1f}%\n",
                     r.model_tflops_per_device, 100 * r.mfu, 100 * r.hfu);
  const double margin_gb = (r.memory_capacity - r.memory.total()).value() / 1e9;
  out += fmt::format(
      "  memory           {:10.1f} GB per device of {:.1f} GB -> {} (margin {:+.1f} GB)\n",
      r.memory.total().value() / 1e9, r.memory_capacity.value() / 1e9,
      r.fits ? "fits" : "DOES NOT FIT", margin_gb);
  if (plan.pp > 1) {
    out += fmt::format("  pipeline         slowest stage {}, most memory on stage {}\n",
                       r.slowest_stage, r.memory.stage);
  }
  if (r.memory.host.value() > 0.0)
    out += fmt::format("  host memory      {:10.1f} GB per device (offloaded)\n",
                       r.memory.host.value() / 1e9);
  Table parts({"step breakdown", "seconds", "share"});
  for (const auto& [key, value] : breakdown_items(r.breakdown)) {
    parts.add_row({key, fmt::format("{:.4f}", value.value()),
                   fmt::format("{:.1f}%", 100 * (value / r.step_time))});
  }
  out += "\n";
  out += parts.to_text();
  const TrainingMemory& m = r.memory;
  out += fmt::format(
      "\n  memory per device: weights {:.1f} GB, gradients {:.1f}, optimizer {:.1f}, activations "
      "{:.1f}, "
      "buffers {:.1f}, workspace {:.1f}\n",
      m.weights.value() / 1e9, m.gradients.value() / 1e9, m.optimizer_states.value() / 1e9,
      m.activations.value() / 1e9, m.comm_buffers.value() / 1e9, m.workspace.value() / 1e9);
  out += notes_text(system, job);
  if (budget) {
    out += fmt::format(
        "  {:.3g} tokens: {:.1f} days, {:.3g} device-hours, {:.3g} MWh (with PUE), cost {}\n",
        budget->tokens, budget->wall_time.value() / 86400.0, budget->device_hours,
        budget->energy.value() / 3.6e9,
        budget->cost_usd ? fmt::format("${:.3g} ({} price)", *budget->cost_usd, budget->cost_basis)
                         : std::string("n/a (no price in the catalog)"));
  }
  return out;
}

std::string search_text(const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
                        const SearchResult& s) {
  std::string out = fmt::format(
      "{} on {} ({} x {}), global batch {} x {} tokens: {} valid plans evaluated, {} fit; best "
      "{}:\n\n",
      model.id, system.id, system.devices(), system.accelerator.id, job.global_batch, job.seq_len,
      s.evaluated, s.fitting, s.best.size());
  out += notes_text(system, job);
  if (!system.notes.empty()) out += "\n";
  if (s.best.empty()) {
    return out +
           (s.evaluated == 0
                ? "No valid plan: tp x pp x cp x dp must equal the devices, with tp within the "
                  "scale-up domain dividing the heads, pp dividing the layers and dp x "
                  "micro-batch dividing the global batch. Try another --nodes or "
                  "--global-batch.\n"
                : "None of the valid plans fits in memory: try more devices or a shorter "
                  "sequence.\n");
  }
  Table table(
      {"#", "plan", "step s", "tokens/s", "MFU", "HFU", "GB/device", "bubble s", "exposed comm s"});
  int rank = 0;
  for (const auto& [plan, r] : s.best) {
    const StepBreakdown& b = r.breakdown;
    const Seconds comm = b.tp_comm + b.cp_comm + b.ep_comm + b.pp_comm + b.dp_comm;
    table.add_row(
        {std::to_string(++rank), plan_text(plan), fmt::format("{:.3f}", r.step_time.value()),
         fmt::format("{:.0f}", r.tokens_per_s), fmt::format("{:.1f}%", 100 * r.mfu),
         fmt::format("{:.1f}%", 100 * r.hfu), fmt::format("{:.1f}", r.memory.total().value() / 1e9),
         fmt::format("{:.3f}", b.pipeline_bubble.value()), fmt::format("{:.3f}", comm.value())});
  }
  return out + table.to_text();
}

namespace {

/// The simulated pipeline of one step and the time of one stage-to-stage send.
struct StepSchedule {
  PipelineSchedule pipeline;
  Seconds send;
};

StepSchedule step_schedule(const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
                           const ParallelPlan& plan, const TrainingResult& r) {
  const double m = static_cast<double>(r.micro_batches);
  // Per chunk and micro-batch: its layers and slots as the step prices them (uneven stages).
  std::vector<Seconds> forward, backward;
  for (const ChunkTime& c :
       chunk_times(model, system, job, plan, micro_batch_cost(model, system, job, plan))) {
    forward.push_back(c.forward);
    backward.push_back(c.backward);
  }
  const Seconds send =
      plan.pp > 1 ? r.breakdown.pp_comm / (2.0 * (m * plan.vpp + plan.pp - 1.0)) : Seconds(0.0);
  return {simulate_pipeline(plan.pp, plan.vpp, r.micro_batches, forward, backward, send), send};
}

}  // namespace

Json training_schedule_json(const ModelSpec& model, const SystemSpec& system,
                            const TrainingJob& job, const ParallelPlan& plan,
                            const TrainingResult& r, std::size_t max_ops) {
  const PipelineSchedule schedule = step_schedule(model, system, job, plan, r).pipeline;
  std::vector<const ScheduledOp*> ops;
  for (const auto& op : schedule.ops) ops.push_back(&op);
  std::stable_sort(ops.begin(), ops.end(),
                   [](const ScheduledOp* a, const ScheduledOp* b) { return a->start < b->start; });
  const bool truncated = ops.size() > max_ops;
  if (truncated) ops.resize(max_ops);
  Json array = Json::array();
  for (const ScheduledOp* op : ops) {
    array.push_back({{"stage", op->stage},
                     {"chunk", op->chunk},
                     {"micro_batch", op->micro_batch},
                     {"pass", op->backward ? "backward" : "forward"},
                     {"start_s", op->start.value()},
                     {"end_s", op->end.value()}});
  }
  return {{"length_s", schedule.length.value()}, {"truncated", truncated}, {"ops", array}};
}

Json training_trace(const ModelSpec& model, const SystemSpec& system, const TrainingJob& job,
                    const ParallelPlan& plan, const TrainingResult& r) {
  const StepBreakdown& b = r.breakdown;
  const auto [schedule, send] = step_schedule(model, system, job, plan, r);

  Json events = Json::array();
  auto us = [](Seconds t) { return t.value() * 1e6; };
  for (int stage = 0; stage < plan.pp; ++stage) {
    events.push_back({{"name", "process_name"},
                      {"ph", "M"},
                      {"pid", stage},
                      {"args", {{"name", fmt::format("pipeline stage {}", stage)}}}});
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", stage},
                      {"tid", 0},
                      {"args", {{"name", "compute"}}}});
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", stage},
                      {"tid", 1},
                      {"args", {{"name", "communication"}}}});
  }
  for (const auto& op : schedule.ops) {
    events.push_back({{"name", fmt::format("{} mb{} chunk{}", op.backward ? "B" : "F",
                                           op.micro_batch, op.chunk)},
                      {"cat", op.backward ? "backward" : "forward"},
                      {"ph", "X"},
                      {"pid", op.stage},
                      {"tid", 0},
                      {"ts", us(op.start)},
                      {"dur", us(op.end - op.start)}});
    const bool sends = op.backward ? op.stage > 0 || op.chunk > 0
                                   : op.stage < plan.pp - 1 || op.chunk < plan.vpp - 1;
    if (plan.pp > 1 && sends && send.value() > 0.0) {
      events.push_back(
          {{"name", fmt::format("send {} mb{}", op.backward ? "grad" : "act", op.micro_batch)},
           {"cat", "pp_comm"},
           {"ph", "X"},
           {"pid", op.stage},
           {"tid", 1},
           {"ts", us(op.end)},
           {"dur", us(send)}});
    }
  }
  // After the pipeline drains: the exposed gradient reduction, then the optimizer step.
  const Seconds tail = schedule.length;
  for (int stage = 0; stage < plan.pp; ++stage) {
    if (b.dp_comm.value() > 0.0) {
      events.push_back({{"name", "gradient reduction (exposed)"},
                        {"cat", "dp_comm"},
                        {"ph", "X"},
                        {"pid", stage},
                        {"tid", 1},
                        {"ts", us(tail)},
                        {"dur", us(b.dp_comm)}});
    }
    events.push_back({{"name", "optimizer"},
                      {"cat", "optimizer"},
                      {"ph", "X"},
                      {"pid", stage},
                      {"tid", 0},
                      {"ts", us(tail + b.dp_comm)},
                      {"dur", us(b.optimizer)}});
  }
  return {{"traceEvents", events},
          {"displayTimeUnit", "ms"},
          {"otherData",
           {{"model", model.id},
            {"step_time_s", r.step_time.value()},
            {"schedule_s", (tail + b.dp_comm + b.optimizer).value()},
            {"global_batch", job.global_batch}}}};
}

}  // namespace xpusim

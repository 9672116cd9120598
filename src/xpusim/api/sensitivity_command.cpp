#include "xpusim/api/sensitivity_command.hpp"

#include "xpusim/api/shell.hpp"

#include <fmt/format.h>

#include <iostream>

#include "xpusim/api/flags.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/sensitivity_report.hpp"
#include "xpusim/study/sensitivity.hpp"

namespace xpusim::api {

namespace {

struct Prepared {
  std::string title;
  Sensitivity result;
};

Prepared infer_sensitivity(const SensitivityFlags& f, const std::filesystem::path& data,
                           double step) {
  const ModelSpec model = load_model(f.model, data / "models");
  const AcceleratorSpec hw = load_accelerator(f.hw, data / "hardware");
  InferenceRequest r;
  r.devices = f.devices;
  r.batch = f.batch;
  r.input_len = f.input_len;
  r.output_len = f.output_len;
  r.weight_dtype = dtype_flag("--weight-dtype", f.weight_dtype);
  r.kv_dtype = dtype_flag("--kv-dtype", f.kv_dtype);
  validate_request(model, hw, r);
  const Economics economics = load_economics(data / "economics.yaml");
  Sensitivity s = sensitivity(WorkloadKind::kInfer, single_chip_system(hw),
                              infer_evaluation(model, r, economics), step);
  s.time_metric = "end-to-end latency of the batch";
  s.cost_metric = "USD per million generated tokens";
  return {fmt::format("{} on {} x {}, batch {}, {} in / {} out, weights {}", model.id, r.devices,
                      hw.id, r.batch, r.input_len, r.output_len, to_string(r.weight_dtype)),
          std::move(s)};
}

Prepared train_sensitivity(const SensitivityFlags& f, const std::filesystem::path& data,
                           double step) {
  if (f.train.search)
    throw_input_error("command line", "--search",
                      "sensitivity evaluates one plan; give it with --tp, --pp, ...");
  const TrainInputs in = train_inputs(f.train, data);
  const Economics economics = load_economics(data / "economics.yaml");
  Sensitivity s =
      sensitivity(WorkloadKind::kTrain, in.system,
                  train_evaluation(in.model, in.job, in.plan, f.train.tokens, economics), step);
  s.time_metric = f.train.tokens > 0 ? "wall time of the token budget" : "step time";
  s.cost_metric = f.train.tokens > 0 ? "USD of the token budget" : "USD of one step";
  return {fmt::format("{} training on {} ({} devices), global batch {} x {} tokens", in.model.id,
                      in.system.id, in.system.devices(), in.job.global_batch, in.job.seq_len),
          std::move(s)};
}

Prepared serve_sensitivity(const SensitivityFlags& f, const std::filesystem::path& data,
                           double step) {
  if (f.serve.find_max_rate)
    throw_input_error("command line", "--find-max-rate",
                      "sensitivity simulates the workload as given; drop --find-max-rate");
  const ServeConfig config = serve_config(f.serve, data);
  validate_serve_config(config);
  Sensitivity s = sensitivity(WorkloadKind::kServe, single_chip_system(config.hw),
                              serve_evaluation(config), step);
  s.time_metric = "makespan of the workload";
  s.cost_metric = "USD per million generated tokens";
  return {fmt::format("{} served on {} (tp {}, {} replicas, {} batching)", config.model.id,
                      config.hw.id, config.tensor_parallel, replicas_of(config),
                      to_string(config.scheduler)),
          std::move(s)};
}

}  // namespace

CLI::App* add_sensitivity_command(CLI::App& app, SensitivityFlags& f,
                                  const std::function<void(CLI::App*)>& add_format) {
  auto* cmd = app.add_subcommand("sensitivity",
                                 "change in a workload's time and cost per +10% of each resource");
  cmd->require_subcommand(1);
  cmd->add_option("--step-percent", f.step_percent, "the growth of each resource (default 10)");
  f.infer_cmd = cmd->add_subcommand("infer", "one inference batch (the flags of xpusim infer)");
  f.infer_cmd->add_option("--model", f.model, "catalog id or path to a config.json")->required();
  f.infer_cmd->add_option("--hw", f.hw, "catalog id or path to a YAML file")->required();
  f.infer_cmd->add_option("--devices", f.devices, "tensor-parallel devices (default 1)");
  f.infer_cmd->add_option("--batch", f.batch, "requests in the batch (default 1)");
  f.infer_cmd->add_option("--input-len", f.input_len, "prompt tokens (default 128)");
  f.infer_cmd->add_option("--output-len", f.output_len, "generated tokens (default 128)");
  f.infer_cmd->add_option("--weight-dtype", f.weight_dtype, "bf16|fp16|fp8|int8|int4|fp4");
  f.infer_cmd->add_option("--kv-dtype", f.kv_dtype, "bf16|fp16|fp8");
  add_format(f.infer_cmd);
  f.train_cmd = add_train_command(*cmd, f.train);
  add_format(f.train_cmd);
  f.serve_cmd = add_serve_command(*cmd, f.serve);
  add_format(f.serve_cmd);
  return cmd;
}

void run_sensitivity_command(const SensitivityFlags& f, const std::filesystem::path& data,
                             const std::string& format, const Context& ctx) {
  if (!(f.step_percent > 0.0 && f.step_percent <= 100.0))
    throw_input_error("command line", "--step-percent",
                      fmt::format("expected 0 < step <= 100, got {}", f.step_percent));
  const double step = f.step_percent / 100.0;
  const Prepared p = f.infer_cmd->parsed()   ? infer_sensitivity(f, data, step)
                     : f.train_cmd->parsed() ? train_sensitivity(f, data, step)
                                             : serve_sensitivity(f, data, step);
  const auto checked = sensitivity_json(p.title, p.result);
  if (format == "json")
    print_json(ctx.out, checked);
  else
    print_text(ctx.out, sensitivity_text(p.title, p.result), checked);
}

}  // namespace xpusim::api

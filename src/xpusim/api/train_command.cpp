#include "xpusim/api/train_command.hpp"

#include "xpusim/api/flags.hpp"
#include "xpusim/api/shell.hpp"

#include <fmt/format.h>

#include <iostream>

#include "xpusim/core/checked.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/training_report.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim::api {

namespace {

[[noreturn]] void bad_flag(const char* flag, const std::string& what) {
  throw_input_error("command line", flag, what);
}

/// Bounds of a step: 2^24 sequences or tokens per sequence is past any published run, and keeps
/// their product (tokens per step) far inside 64 bits.
constexpr int64_t kMaxGlobalBatch = int64_t{1} << 24;
constexpr int64_t kMaxSeqLen = int64_t{1} << 24;
/// A token budget past 10^16 is a thousand times the largest published pre-training run.
constexpr double kMaxTokens = 1e16;
/// More plans than anyone reads; each is kept with its full result.
constexpr int kMaxTop = 1000;

/// The FSDP schedule flags: any of them makes the job's sharding FSDP (they need --zero 3).
void data_parallel_from(const TrainFlags& f, TrainingJob& job) {
  DataParallelSpec& dp = job.data_parallel;
  if (!f.reduce_dtype.empty()) {
    const auto dtype = parse_dtype(f.reduce_dtype);
    if (!dtype || (*dtype != DType::kFp32 && *dtype != DType::kBf16))
      bad_flag("--reduce-dtype", fmt::format("expected fp32 or bf16, got '{}'", f.reduce_dtype));
    dp.reduce_dtype = *dtype;
  }
  const bool fsdp =
      f.fsdp_prefetch >= 0 || f.no_reshard_after_forward || f.reduce_per_step || f.fp8_all_gather;
  if (!fsdp) return;
  if (f.zero != 3) {
    const char* flag = f.fsdp_prefetch >= 0         ? "--fsdp-prefetch"
                       : f.no_reshard_after_forward ? "--no-reshard-after-forward"
                       : f.reduce_per_step          ? "--per-step-reduce"
                                                    : "--fsdp-fp8-all-gather";
    bad_flag(flag, fmt::format("an FSDP schedule needs --zero 3, got --zero {}", f.zero));
  }
  dp.sharding = Sharding::kFsdp;
  dp.reshard_after_forward = !f.no_reshard_after_forward;
  dp.gradient_reduce =
      f.reduce_per_step ? GradientReduce::kPerStep : GradientReduce::kPerMicroBatch;
  dp.prefetch_layers = f.fsdp_prefetch >= 0 ? f.fsdp_prefetch : 1;
  dp.fp8_all_gather = f.fp8_all_gather;
}

/// The stack named by --stack, or the accelerator's default (said in a note); none where the
/// catalog has no default for the chip or --stack is "none".
TrainingJob stacked_job(const TrainFlags& f, const AcceleratorSpec& hw,
                        const std::filesystem::path& data) {
  TrainingJob job;
  if (f.stack == "none") return job;  // the library's conventions (Megatron-Core, SC'21)
  std::string ref = f.stack;
  if (ref.empty()) {
    const auto fallback = default_training_stack(hw);
    if (!fallback) {
      job.notes.push_back(fmt::format(
          "no default stack for {}: Megatron-Core conventions (--stack to choose)", hw.id));
      return job;
    }
    ref = *fallback;
    job.notes.push_back(
        fmt::format("stack {}: the default for {} (--stack to choose)", ref, hw.architecture));
  }
  try {
    return apply_stack(job, load_stack(ref, data / "stacks"), hw);
  } catch (const Error& e) {
    if (e.kind() != Error::Kind::kNotFound || !f.stack.size()) throw;
    bad_flag("--stack", e.what());
  }
}

TrainingJob job_from(const TrainFlags& f, const ModelSpec& model, const AcceleratorSpec& hw,
                     const std::filesystem::path& data) {
  TrainingJob job = stacked_job(f, hw, data);
  if (f.global_batch < 1 || f.global_batch > kMaxGlobalBatch)
    bad_flag("--global-batch",
             fmt::format("expected 1 to {}, got {}", kMaxGlobalBatch, f.global_batch));
  if (f.seq_len < 1 || f.seq_len > kMaxSeqLen)
    bad_flag("--seq-len", fmt::format("expected 1 to {}, got {}", kMaxSeqLen, f.seq_len));
  if (f.seq_len > model.max_positions)
    bad_flag("--seq-len", fmt::format("expected at most the model's context of {} tokens "
                                      "(max_position_embeddings of {}), got {}",
                                      model.max_positions, model.id, f.seq_len));
  if (f.micro_batch < 1 || f.micro_batch > f.global_batch)
    bad_flag("--micro-batch", fmt::format("expected 1 to the global batch {}, got {}",
                                          f.global_batch, f.micro_batch));
  job.global_batch = f.global_batch;
  job.seq_len = f.seq_len;
  job.recipe = recipe_flag("--precision", f.precision);
  if (f.no_dp_overlap) job.overlap_dp_comm = false;
  if (f.tp_overlap) job.overlap_tp_comm = true;
  if (!f.attention.empty()) {
    const auto kernel = parse_attention_kernel(f.attention);
    if (!kernel) {
      bad_flag(
          "--attention",
          fmt::format("expected flash2, flash3, cudnn, ck, splash, vendor or unfused, got '{}'",
                      f.attention));
    }
    job.fused_attention = *kernel != AttentionKernel::kUnfused;
    job.attention = job.fused_attention ? kernel : std::nullopt;
    if (auto note = attention_stand_in(job, hw)) job.notes.push_back(*note);
  }
  data_parallel_from(f, job);
  if (!(f.moe_load_imbalance >= 1.0 && f.moe_load_imbalance <= 100.0))
    bad_flag("--moe-load-imbalance",
             fmt::format("expected 1 to 100, got {}", f.moe_load_imbalance));
  job.moe_load_imbalance = f.moe_load_imbalance;
  if (f.lora_rank < 0 || f.lora_rank > 4096)
    bad_flag("--lora-rank", fmt::format("expected 0 (full training) to 4096, got {}", f.lora_rank));
  job.lora_rank = f.lora_rank;
  return job;
}

void pipeline_split_from(const TrainFlags& f, ParallelPlan& p) {
  if (f.first_stage_layers < 0)
    bad_flag("--first-stage-layers",
             fmt::format("expected at least 1, got {}", f.first_stage_layers));
  if (f.last_stage_layers < 0)
    bad_flag("--last-stage-layers",
             fmt::format("expected at least 1, got {}", f.last_stage_layers));
  if (f.first_stage_layers > 0) p.first_stage_layers = f.first_stage_layers;
  if (f.last_stage_layers > 0) p.last_stage_layers = f.last_stage_layers;
  if (f.pipeline_layout.empty()) return;
  if (p.first_stage_layers || p.last_stage_layers)
    bad_flag("--pipeline-layout",
             "replaces --first-stage-layers and --last-stage-layers; give one");
  try {
    p.layout = parse_pipeline_layout(f.pipeline_layout);
  } catch (const Error& e) {
    bad_flag("--pipeline-layout", e.what());
  }
}

/// --system (with --nodes and --devices-per-domain), or --hw with --nodes.
SystemSpec system_from(const TrainFlags& f, const std::filesystem::path& data) {
  if (f.system.empty() == f.hw.empty())
    bad_flag("--system", "give either --system or --hw (with --nodes)");
  SystemSpec system;
  if (!f.hw.empty()) {
    if (f.nodes < 1) bad_flag("--nodes", "--hw needs --nodes (at least 1)");
    return default_system(load_accelerator(f.hw, data / "hardware"), f.nodes, f.devices_per_node,
                          f.devices_per_domain);
  }
  if (f.devices_per_node != 0)
    bad_flag("--devices-per-node", "only with --hw (a system file sets its own nodes)");
  system = load_system(f.system, data / "systems", data / "hardware");
  if (f.devices_per_domain != 0) system = with_devices_per_domain(system, f.devices_per_domain);
  if (f.nodes != 0) system = with_nodes(system, f.nodes);
  return system;
}

ParallelPlan plan_from(const TrainFlags& f, const SystemSpec& system) {
  // Each degree within the system's devices, so that their products stay far inside 64 bits.
  const std::pair<const char*, int> degrees[] = {
      {"--tp", f.tp}, {"--pp", f.pp}, {"--vpp", f.vpp}, {"--cp", f.cp}, {"--ep", f.ep}};
  for (const auto& [flag, degree] : degrees) {
    if (degree < 1 || degree > system.devices())
      bad_flag(flag, fmt::format("expected 1 to the {} devices of {}, got {}", system.devices(),
                                 system.id, degree));
  }
  ParallelPlan p;
  p.tp = f.tp;
  p.pp = f.pp;
  p.vpp = f.vpp;
  p.cp = f.cp;
  p.ep = f.ep;
  p.sequence_parallel = f.sp;
  p.micro_batch = f.micro_batch;
  p.zero_stage = f.zero;
  pipeline_split_from(f, p);
  p.offload_optimizer = f.offload_optimizer;
  p.offload_activations = f.offload_activations;
  const auto recompute = parse_recompute(f.recompute);
  if (!recompute)
    bad_flag("--recompute", fmt::format("expected none, selective or full, got '{}'", f.recompute));
  p.recompute = *recompute;
  const int64_t split = static_cast<int64_t>(p.tp) * p.pp * p.cp;
  if (split < 1 || system.devices() % split != 0) {
    throw_input_error("command line", "parallel plan",
                      fmt::format("tp x pp x cp = {} does not divide the {} devices of {}", split,
                                  system.devices(), system.id));
  }
  p.dp = static_cast<int>(system.devices() / split);
  return p;
}

void write_trace(const std::string& path, const nlohmann::json& trace) {
  check_result_numbers(trace);
  write_output_file(path, trace.dump() + "\n", "--trace");
}

}  // namespace

TrainInputs train_inputs(const TrainFlags& f, const std::filesystem::path& data) {
  ModelSpec model = load_model(f.model, data / "models");
  SystemSpec system = system_from(f, data);
  TrainingJob job = job_from(f, model, system.accelerator, data);
  if (auto problem = stack_problem(job)) bad_flag("--stack", *problem);
  TrainInputs in{std::move(model), std::move(system), std::move(job), {}};
  in.plan = plan_from(f, in.system);
  // The problem names the degrees it is about; no single flag is to blame.
  if (auto problem = plan_problem(in.model, in.system, in.job, in.plan))
    throw_input_error("command line", "parallel plan", *problem);
  if (!(f.tokens >= 0 && f.tokens <= kMaxTokens))
    bad_flag("--tokens", fmt::format("expected 0 (none) to {:g}, got {}", kMaxTokens, f.tokens));
  return in;
}

CLI::App* add_train_command(CLI::App& app, TrainFlags& f) {
  auto* cmd = app.add_subcommand(
      "train", "one training step at cluster scale, or --search over parallel plans");
  cmd->add_option("--model", f.model, "catalog id or path to a config.json")->required();
  cmd->add_option("--system", f.system, "system id or path to a YAML file");
  cmd->add_option(
      "--hw", f.hw,
      "accelerator id or path: a default system of --nodes nodes (instead of --system)");
  cmd->add_option("--nodes", f.nodes, "nodes (default: the system file's)");
  cmd->add_option("--devices-per-node", f.devices_per_node,
                  "with --hw: devices per node (default: up to 8, dividing the scale-up domain)");
  cmd->add_option("--devices-per-domain", f.devices_per_domain,
                  "devices in use of each scale-up domain (64 of an NVL72's 72)");
  cmd->add_option("--first-stage-layers", f.first_stage_layers,
                  "layers on the first pipeline stage (Megatron "
                  "--decoder-first-pipeline-num-layers)");
  cmd->add_option("--last-stage-layers", f.last_stage_layers,
                  "layers on the last pipeline stage (--decoder-last-pipeline-num-layers)");
  cmd->add_option("--pipeline-layout", f.pipeline_layout,
                  "Megatron-Core pipeline_model_parallel_layout, e.g. 'Et*3|t*4|t*4|t*3L'");
  cmd->add_flag("--offload-optimizer", f.offload_optimizer,
                "optimizer states in host memory, streamed over the host link (ZeRO-Offload)");
  cmd->add_flag("--offload-activations", f.offload_activations,
                "saved activations to host memory and back (Megatron/TE activation offloading)");
  cmd->add_option("--tp", f.tp, "tensor parallelism");
  cmd->add_option("--pp", f.pp, "pipeline parallelism");
  cmd->add_option("--vpp", f.vpp, "virtual stages per pipeline stage (interleaved 1F1B)");
  cmd->add_option("--cp", f.cp, "context parallelism");
  cmd->add_option("--ep", f.ep, "expert parallelism");
  cmd->add_flag("--sp", f.sp, "sequence parallelism");
  cmd->add_option("--global-batch", f.global_batch, "sequences per step")->required();
  cmd->add_option("--micro-batch", f.micro_batch, "sequences per micro-batch");
  cmd->add_option("--seq-len", f.seq_len, "tokens per sequence")->required();
  cmd->add_option("--recompute", f.recompute, "none|selective|full");
  cmd->add_option("--zero", f.zero, "ZeRO stage 0-3");
  cmd->add_option("--precision", f.precision,
                  "bf16|fp8-delayed|fp8-current|fp8-blockwise|mxfp8|nvfp4 (precision recipe)");
  cmd->add_option("--stack", f.stack,
                  "software stack: catalog id, path or none (default: the accelerator's, stated)");
  cmd->add_option("--attention", f.attention,
                  "flash2|flash3|cudnn|ck|splash|vendor|unfused (default: the stack's)");
  cmd->add_flag("--no-dp-overlap", f.no_dp_overlap, "reduce gradients after the backward pass");
  cmd->add_flag("--tp-overlap", f.tp_overlap, "overlap tensor-parallel collectives with GEMMs");
  cmd->add_option("--fsdp-prefetch", f.fsdp_prefetch,
                  "with --zero 3: layers whose gathers are issued ahead (default 1; 0: on demand)");
  cmd->add_flag("--no-reshard-after-forward", f.no_reshard_after_forward,
                "with --zero 3: keep gathered weights from the forward to the backward");
  cmd->add_flag("--per-step-reduce", f.reduce_per_step,
                "with --zero 3: reduce-scatter gradients once per step, not per micro-batch");
  cmd->add_flag("--fsdp-fp8-all-gather", f.fp8_all_gather,
                "with --zero 3 and a tensorwise fp8 precision: gather fp8 weights (torchao)");
  cmd->add_option("--reduce-dtype", f.reduce_dtype,
                  "gradient reduction type: fp32|bf16 (default bf16)");
  cmd->add_option("--moe-load-imbalance", f.moe_load_imbalance,
                  "tokens of the busiest expert rank over the mean (default 1: balanced)");
  cmd->add_option("--lora-rank", f.lora_rank,
                  "LoRA fine-tuning: rank of the q/k/v/o adapters, base weights frozen (0: off)");
  cmd->add_option("--tokens", f.tokens,
                  "token budget: wall time, device-hours, energy and cost of the run");
  cmd->add_option("--trace", f.trace_file, "write one step as a Chrome trace (JSON)");
  cmd->add_flag("--search", f.search, "search every valid plan, print the best");
  cmd->add_option("--top", f.top, "plans to print with --search (default 10)");
  return cmd;
}

void run_train_command(const TrainFlags& f, const std::filesystem::path& data,
                       const std::string& format, const Context& ctx) {
  const ModelSpec model = load_model(f.model, data / "models");
  const SystemSpec system = system_from(f, data);
  const TrainingJob job = job_from(f, model, system.accelerator, data);
  if (auto problem = stack_problem(job)) bad_flag("--stack", *problem);
  if (!(f.tokens >= 0 && f.tokens <= kMaxTokens))
    bad_flag("--tokens", fmt::format("expected 0 (none) to {:g}, got {}", kMaxTokens, f.tokens));
  const Economics economics = load_economics(data / "economics.yaml");
  auto budget_of = [&](const TrainingResult& r) -> std::optional<TrainingBudget> {
    if (f.tokens <= 0) return std::nullopt;
    return budget_for(r, system, f.tokens, economics);
  };
  const bool json = format == "json";
  if (f.search) {
    if (f.top < 1 || f.top > kMaxTop)
      bad_flag("--top", fmt::format("expected 1 to {}, got {}", kMaxTop, f.top));
    SearchOptions options;
    options.top_k = f.top;
    options.offload_optimizer = f.offload_optimizer;
    options.offload_activations = f.offload_activations;
    options.progress = ctx.progress;
    const SearchResult s = search_training(model, system, job, options);
    nlohmann::json array = nlohmann::json::array();
    for (const auto& [plan, r] : s.best)
      array.push_back(training_json(model, system, job, plan, r, budget_of(r)));
    if (json)
      print_json(ctx.out, array);
    else
      print_text(ctx.out, search_text(model, system, job, s), array);
    if (!f.trace_file.empty() && !s.best.empty()) {
      write_trace(f.trace_file,
                  training_trace(model, system, job, s.best.front().plan, s.best.front().result));
    }
    return;
  }
  const ParallelPlan plan = plan_from(f, system);
  // The problem names the degrees it is about (tp, pp, cp, the global batch, ...); no single flag
  // is to blame.
  if (auto problem = plan_problem(model, system, job, plan))
    throw_input_error("command line", "parallel plan", *problem);
  const TrainingResult r = evaluate_training(model, system, job, plan);
  auto checked = training_json(model, system, job, plan, r, budget_of(r));
  if (json) checked["pipeline_schedule"] = training_schedule_json(model, system, job, plan, r);
  if (json)
    print_json(ctx.out, checked);
  else
    print_text(ctx.out, training_text(model, system, job, plan, r, budget_of(r)), checked);
  if (!f.trace_file.empty()) write_trace(f.trace_file, training_trace(model, system, job, plan, r));
}

}  // namespace xpusim::api

#include "xpusim/api/serve_command.hpp"

#include "xpusim/api/flags.hpp"
#include "xpusim/api/shell.hpp"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "xpusim/core/checked.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/serve_report.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/mlperf.hpp"
#include "xpusim/serve/plan.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/stack/stack.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim::api {

namespace {

[[noreturn]] void bad_flag(const char* flag, const std::string& what) {
  throw_input_error("command line", flag, what);
}

/// Lengths from --lengths-file (pairs kept), else from --input-len and --output-len.
void set_lengths(const ServeFlags& f, Workload& w) {
  if (f.lengths_file_option->count() == 0) {
    w.input = parse_length_distribution(f.input_len, "workload.input");
    w.output = parse_length_distribution(f.output_len, "workload.output");
    return;
  }
  if (f.input_len_option->count() > 0 || f.output_len_option->count() > 0)
    bad_flag("--lengths-file",
             "draws input and output together: give neither --input-len nor "
             "--output-len");
  w.pairs = load_length_pairs(f.lengths_file);
  w.pairs_source = f.lengths_file;
}

Workload workload_from(const ServeFlags& f) {
  const int modes = static_cast<int>(f.rate_option->count() > 0) +
                    static_cast<int>(f.concurrency_option->count() > 0) +
                    static_cast<int>(f.offline_option->count() > 0) +
                    static_cast<int>(f.requests_file_option->count() > 0);
  if (f.find_max_rate) {
    // The search sets Poisson arrivals at each rate it probes.
    if (modes != 0) {
      bad_flag("--find-max-rate",
               "searches the Poisson rate itself: give none of --rate, --concurrency, --offline "
               "and --requests-file");
    }
    Workload w;
    w.seed = f.seed;
    w.num_requests = f.num_requests;
    w.min_duration_s = f.min_duration_s;
    set_lengths(f, w);
    return w;
  }
  if (modes != 1) {
    bad_flag("--rate", fmt::format("expected exactly one of --rate, --concurrency, --offline and "
                                   "--requests-file, got {}",
                                   modes));
  }
  Workload w;
  w.seed = f.seed;
  w.num_requests = f.num_requests;
  w.min_duration_s = f.min_duration_s;
  if (f.requests_file_option->count() > 0) {
    w.arrival = ArrivalKind::kTrace;
    w.trace = load_trace(f.requests_file);
    return w;
  }
  set_lengths(f, w);
  if (f.min_duration_s > 0.0 && f.rate_option->count() == 0)
    bad_flag("--min-duration-s", "sizes Poisson runs: only with --rate or --find-max-rate");
  if (f.rate_option->count() > 0) {
    w.arrival = ArrivalKind::kPoisson;
    w.rate_per_s = f.rate;
  } else if (f.concurrency_option->count() > 0) {
    w.arrival = ArrivalKind::kClosedLoop;
    w.concurrency = f.concurrency;
  } else {
    w.arrival = ArrivalKind::kOffline;
  }
  return w;
}

/// --replicas sizes colocated replicas; the disaggregated pools are sized by their own flags.
void check_replica_flags(const ServeFlags& f) {
  const bool pools =
      f.prefill_replicas_option->count() > 0 || f.decode_replicas_option->count() > 0;
  if (f.scheduler == "disaggregated") {
    if (f.replicas_option->count() > 0) {
      bad_flag("--replicas",
               "not with --scheduler disaggregated: give --prefill-replicas and --decode-replicas");
    }
    return;
  }
  if (pools) {
    bad_flag(f.prefill_replicas_option->count() > 0 ? "--prefill-replicas" : "--decode-replicas",
             "only with --scheduler disaggregated");
  }
}

void check_devices(const ServeFlags& f) {
  if (f.devices == 0) return;
  if (f.ep != 1 || f.decode_tp != 0 || f.decode_ep != 0) {
    const int prefill = f.tp * f.ep * f.pp;
    const int decode =
        (f.decode_tp > 0 ? f.decode_tp : f.tp) * (f.decode_ep > 0 ? f.decode_ep : f.ep) * f.pp;
    const int64_t devices = f.scheduler == "disaggregated" ? int64_t{f.prefill_replicas} * prefill +
                                                                 int64_t{f.decode_replicas} * decode
                                                           : int64_t{f.replicas} * prefill;
    if (f.devices != devices) {
      bad_flag("--devices",
               fmt::format("expected the replicas' tp x ep x pp devices, {} in all, got {}",
                           devices, f.devices));
    }
    return;
  }
  if (f.scheduler == "disaggregated") {
    const int64_t devices =
        static_cast<int64_t>(f.prefill_replicas + f.decode_replicas) * f.tp * f.pp;
    if (f.devices == devices) return;
    bad_flag("--devices",
             fmt::format("expected (--prefill-replicas + --decode-replicas) x --tp x --pp = ({} + "
                         "{}) x {} x {} = {}, got {}",
                         f.prefill_replicas, f.decode_replicas, f.tp, f.pp, devices, f.devices));
  }
  const int64_t devices = static_cast<int64_t>(f.replicas) * f.tp * f.pp;
  if (f.devices != devices) {
    bad_flag("--devices",
             fmt::format("expected --replicas x --tp x --pp = {} x {} x {} = {}, got {}",
                         f.replicas, f.tp, f.pp, devices, f.devices));
  }
}

}  // namespace

std::optional<StackSpec> serving_stack_for(const std::string& ref, const AcceleratorSpec& hw,
                                           const std::filesystem::path& data) {
  if (ref == "none") return std::nullopt;
  const auto family = architecture_family(hw.vendor, hw.architecture);
  if (ref == "auto") {
    if (!family) return std::nullopt;
    const auto all = load_all_stacks(data / "stacks");
    const StackSpec* newest = newest_serving_stack(all, *family);
    if (newest == nullptr) return std::nullopt;
    return *newest;
  }
  StackSpec stack = load_stack(ref, data / "stacks");
  if (!stack.serving)
    bad_flag("--stack", fmt::format("{} is a training stack; expected a serving one", stack.id));
  if (!family || !stack.kernels.attention_for(*family)) {
    bad_flag("--stack", fmt::format("{} does not run on {} ({})", stack.id, hw.id,
                                    family ? to_string(*family) : "no stack family"));
  }
  return stack;
}

namespace {

/// --system, or --hw (a bare accelerator: serving_system makes it a default system).
void place(const ServeFlags& f, const std::filesystem::path& data, ServeConfig& c) {
  if (f.system.empty() == f.hw.empty()) bad_flag("--hw", "give exactly one of --hw and --system");
  if (f.system.empty()) {
    c.hw = load_accelerator(f.hw, data / "hardware");
    return;
  }
  c.system = load_system(f.system, data / "systems", data / "hardware");
  c.hw = c.system->accelerator;
}

Speculation speculation_from(const ServeFlags& f, const std::filesystem::path& data) {
  Speculation s;
  s.draft_tokens = f.spec_tokens;
  s.acceptance = f.spec_acceptance;
  if (!f.spec_draft.empty()) s.draft_model = load_model(f.spec_draft, data / "models");
  return s;
}

/// --mlperf replaces the workload: only the arrival flag its scenario reads may be given.
void check_mlperf_flags(const ServeFlags& f, MlperfScenario scenario) {
  for (const auto& [option, name] : {std::pair{f.concurrency_option, "--concurrency"},
                                     {f.offline_option, "--offline"},
                                     {f.requests_file_option, "--requests-file"},
                                     {f.lengths_file_option, "--lengths-file"},
                                     {f.input_len_option, "--input-len"},
                                     {f.output_len_option, "--output-len"},
                                     {f.num_requests_option, "--num-requests"}}) {
    if (option->count() > 0)
      bad_flag(name, "not with --mlperf: the benchmark's rules set the requests");
  }
  if (f.min_duration_s > 0.0)
    bad_flag("--min-duration-s", "not with --mlperf: the benchmark's rules set the duration");
  if (scenario == MlperfScenario::kOffline && f.find_max_rate)
    bad_flag("--find-max-rate", "not with --mlperf offline (it has no latency limits)");
  if (f.find_max_rate && f.rate_option->count() > 0)
    bad_flag("--rate", "not with --find-max-rate: the search sets the rate");
}

ServeConfig config_from(const ServeFlags& f, const std::filesystem::path& data) {
  ServeConfig c;
  c.model = load_model(f.model, data / "models");
  place(f, data, c);
  c.stack = serving_stack_for(f.stack, c.hw, data);
  c.economics = load_economics(data / "economics.yaml");
  c.tensor_parallel = f.tp;
  c.pipeline_parallel = f.pp;
  c.expert_parallel = f.ep;
  c.decode_tensor_parallel = f.decode_tp;
  c.decode_expert_parallel = f.decode_ep;
  c.speculation = speculation_from(f, data);
  c.prefix_cache_hit_rate = f.prefix_hit_rate;
  c.replicas = f.replicas;
  c.prefill_replicas = f.prefill_replicas;
  c.decode_replicas = f.decode_replicas;
  check_replica_flags(f);
  check_devices(f);
  c.weight_dtype = dtype_flag("--weight-dtype", f.weight_dtype);
  c.kv_dtype = dtype_flag("--kv-dtype", f.kv_dtype);
  c.scheduler = *parse_scheduler(f.scheduler);  // CLI11 checked the name
  c.load_balancer = f.load_balancer == "round_robin" ? LoadBalancer::kRoundRobin
                                                     : LoadBalancer::kLeastOutstanding;
  c.limits.max_num_seqs = f.max_batch;
  c.limits.max_batched_tokens = f.max_batched_tokens;
  // The stack's engine defaults, where the flags leave them.
  if (c.stack && c.stack->serving) {
    const EngineLimits engine = stack_limits(*c.stack->serving, c.limits);
    if (f.max_batch_option->count() == 0) c.limits.max_num_seqs = engine.max_num_seqs;
    if (f.max_batched_tokens_option->count() == 0)
      c.limits.max_batched_tokens = engine.max_batched_tokens;
    if (f.scheduler_option->count() == 0 && c.stack->serving->chunked_prefill)
      c.scheduler = SchedulerKind::kChunked;
  }
  c.limits.block_size = f.block_size;
  c.limits.preemption = f.preemption == "swap" ? Preemption::kSwap : Preemption::kRecompute;
  c.limits.gpu_memory_utilization = f.gpu_memory_utilization;
  c.slo.ttft = Seconds(f.slo_ttft);
  c.slo.tpot = Seconds(f.slo_tpot);
  c.warmup_requests = f.warmup_requests;
  c.cooldown_requests = f.cooldown_requests;
  if (f.mlperf.empty()) {
    c.workload = workload_from(f);
  } else {
    c.workload.seed = f.seed;  // run_mlperf sets the rest
  }
  c.record_iterations = !f.trace_file.empty();
  return c;
}

}  // namespace

ServeConfig serve_config(const ServeFlags& flags, const std::filesystem::path& data) {
  return config_from(flags, data);
}

CLI::App* add_serve_command(CLI::App& app, ServeFlags& f) {
  auto* cmd = app.add_subcommand(
      "serve", "online serving: replicas, batching policy and paged KV cache under a workload");
  cmd->add_option("--model", f.model, "catalog id or path to a config.json")->required();
  cmd->add_option("--hw", f.hw, "accelerator: catalog id or path to a YAML file");
  cmd->add_option("--system", f.system,
                  "instead of --hw: a system id or file (nodes, scale-up and scale-out fabrics)");
  cmd->add_option("--stack", f.stack,
                  "serving engine: stack id or file, auto (the catalog's newest serving stack "
                  "for the chip) or none (default auto)");
  cmd->add_option("--devices", f.devices, "devices in all (must equal replicas x tp x ep x pp)");
  cmd->add_option("--tp", f.tp, "tensor parallelism inside a replica (default 1)");
  cmd->add_option("--pp", f.pp, "pipeline stages inside a replica (default 1)");
  cmd->add_option("--ep", f.ep,
                  "expert parallelism with data-parallel attention (DEP): a replica of tp x ep "
                  "devices (default 1)");
  cmd->add_option("--decode-tp", f.decode_tp, "disaggregated: the decode pool's tp (default --tp)");
  cmd->add_option("--decode-ep", f.decode_ep, "disaggregated: the decode pool's ep (default --ep)");
  cmd->add_option("--spec-tokens", f.spec_tokens,
                  "speculative decoding: tokens proposed per step (default 0: none)");
  cmd->add_option("--spec-acceptance", f.spec_acceptance,
                  "speculative decoding: acceptance rate of one proposal (default 0.7)");
  cmd->add_option("--spec-draft", f.spec_draft,
                  "speculative decoding: draft model id or config.json (default: the model's "
                  "own MTP layers)");
  cmd->add_option("--prefix-hit-rate", f.prefix_hit_rate,
                  "prefix caching: share of each prompt already cached (default 0)");
  f.replicas_option =
      cmd->add_option("--replicas", f.replicas, "replicas behind the load balancer (default 1)");
  f.scheduler_option =
      cmd->add_option("--scheduler", f.scheduler,
                      "static|continuous|chunked|disaggregated (default: chunked where the "
                      "stack prefills in chunks, else continuous)")
          ->check(CLI::IsMember({"static", "continuous", "chunked", "disaggregated"}));
  f.prefill_replicas_option =
      cmd->add_option("--prefill-replicas", f.prefill_replicas,
                      "disaggregated: replicas that run prompts only, chunked (default 1)");
  f.decode_replicas_option =
      cmd->add_option("--decode-replicas", f.decode_replicas,
                      "disaggregated: replicas that decode only, continuous batching (default 1)");
  cmd->add_option("--load-balancer", f.load_balancer,
                  "round_robin|least_outstanding (default round_robin)")
      ->check(CLI::IsMember({"round_robin", "least_outstanding"}));
  f.rate_option = cmd->add_option("--rate", f.rate, "Poisson arrivals, requests per second");
  f.concurrency_option =
      cmd->add_option("--concurrency", f.concurrency, "closed loop of this many clients");
  f.offline_option = cmd->add_flag("--offline", f.offline, "every request at time zero");
  f.requests_file_option = cmd->add_option(
      "--requests-file", f.requests_file,
      "arrivals and lengths from a CSV (arrival_s,input_tokens,output_tokens) or JSONL file");
  f.num_requests_option =
      cmd->add_option("--num-requests", f.num_requests, "requests to simulate (default 1000)");
  f.input_len_option = cmd->add_option(
      "--input-len", f.input_len,
      "prompt tokens: fixed:N, uniform:LO:HI, normal:MEAN:SD, lognormal:MEAN:SD or file:PATH "
      "(default fixed:1024)");
  f.output_len_option = cmd->add_option("--output-len", f.output_len,
                                        "generated tokens, same forms (default fixed:256)");
  f.lengths_file_option =
      cmd->add_option("--lengths-file", f.lengths_file,
                      "draw each request's (input, output) pair from a CSV with the header "
                      "input_length,output_length (data/lengths/), pairing kept");
  cmd->add_option("--min-duration-s", f.min_duration_s,
                  "Poisson: keep requests arriving for at least this long (MLPerf: 600)");
  cmd->add_option("--warmup-requests", f.warmup_requests,
                  "leave the first N requests out of the statistics (default 0)");
  cmd->add_option("--cooldown-requests", f.cooldown_requests,
                  "leave the last N requests out of the statistics (default 0)");
  cmd->add_option("--mlperf", f.mlperf,
                  "SCENARIO BENCHMARK: offline|server|interactive and a data/mlperf id; LoadGen's "
                  "sample set, duration and latency limits (server: --rate is the target, else "
                  "the highest rate within the limits; offline: --rate is the expected rate)")
      ->expected(2);
  cmd->add_option("--weight-dtype", f.weight_dtype, "bf16|fp16|fp8|int8|int4|fp4");
  cmd->add_option("--kv-dtype", f.kv_dtype, "bf16|fp16|fp8");
  cmd->add_option("--seed", f.seed, "random seed (default 0)");
  f.max_batch_option = cmd->add_option(
      "--max-batch", f.max_batch,
      "sequences running at once per engine (default the stack's max_num_seqs, else 256)");
  f.max_batched_tokens_option = cmd->add_option(
      "--max-batched-tokens", f.max_batched_tokens,
      "tokens per iteration (default the stack's max_num_batched_tokens, else 8192)");
  cmd->add_option("--block-size", f.block_size, "tokens per KV-cache block (default 16)");
  cmd->add_option("--preemption", f.preemption,
                  "recompute|swap: a preempted sequence prefills again or its cache goes to host "
                  "memory and back (default recompute, as vLLM)")
      ->check(CLI::IsMember({"recompute", "swap"}));
  cmd->add_option("--gpu-memory-utilization", f.gpu_memory_utilization,
                  "share of device memory for weights, activations and cache (default 0.9)");
  cmd->add_option("--slo-ttft-p99", f.slo_ttft,
                  "time-to-first-token objective at the 99th percentile, s (default 2); goodput "
                  "counts the requests within it");
  cmd->add_option("--slo-tpot-p99", f.slo_tpot,
                  "time-per-output-token objective at the 99th percentile, s (default 0.2)");
  cmd->add_flag("--find-max-rate", f.find_max_rate,
                "search the highest Poisson rate whose p99 TTFT and TPOT meet the objectives");
  cmd->add_option("--trace", f.trace_file,
                  "write every iteration of every replica as a Chrome trace (JSON)");
  return cmd;
}

void run_serve_command(const ServeFlags& f, const std::filesystem::path& data,
                       const std::string& format, const Context& ctx) {
  ServeConfig config = config_from(f, data);
  // Refused before a long simulation rather than after it.
  if (!f.trace_file.empty()) write_output_file(f.trace_file, "", "--trace");
  auto write_trace = [&](const nlohmann::json& trace) {
    if (f.trace_file.empty()) return;
    check_result_numbers(trace);
    write_output_file(f.trace_file, trace.dump() + "\n", "--trace");
  };
  if (!f.mlperf.empty()) {
    const auto scenario = parse_mlperf_scenario(f.mlperf[0]);
    if (!scenario)
      bad_flag("--mlperf",
               fmt::format("expected offline, server or interactive, got '{}'", f.mlperf[0]));
    check_mlperf_flags(f, *scenario);
    const MlperfBenchmark benchmark = load_mlperf_benchmark(f.mlperf[1], data);
    const std::optional<double> rate =
        f.rate_option->count() > 0 ? std::optional<double>(f.rate) : std::nullopt;
    const MlperfRun run = run_mlperf(config, benchmark, *scenario, rate);
    const auto checked = mlperf_json(config, run);
    if (format == "json")
      print_json(ctx.out, checked);
    else
      print_text(ctx.out, mlperf_text(config, run), checked);
    return;
  }
  if (f.find_max_rate) {
    const MaxRateResult found = find_max_rate(config);
    const auto checked = max_rate_json(config, found);
    if (format == "json")
      print_json(ctx.out, checked);
    else
      print_text(ctx.out, max_rate_text(config, found), checked);
    write_trace(serve_trace(config, found.at_max));
    return;
  }
  config.progress = ctx.progress;
  const ServeResult result = simulate(config);
  const auto checked = serve_json(config, result);
  if (format == "json")
    print_json(ctx.out, checked);
  else
    print_text(ctx.out, serve_text(config, result), checked);
  write_trace(serve_trace(config, result));
}

CLI::App* add_plan_command(CLI::App& app, PlanFlags& f) {
  auto* cmd = app.add_subcommand(
      "plan", "the cheapest deployment over the catalog that serves a rate within p99 objectives");
  cmd->add_option("--model", f.model, "catalog id or path to a config.json")->required();
  cmd->add_option("--rate", f.rate, "Poisson arrivals to serve, requests per second")->required();
  cmd->add_option("--slo-ttft-p99", f.slo_ttft, "time-to-first-token objective, s (default 2)");
  cmd->add_option("--slo-tpot-p99", f.slo_tpot, "time-per-output-token objective, s (default 0.2)");
  cmd->add_option("--scheduler", f.scheduler, "static|continuous|chunked (default chunked)")
      ->check(CLI::IsMember({"static", "continuous", "chunked"}));
  cmd->add_option("--num-requests", f.num_requests,
                  "requests per replica in each simulation (default 300)");
  cmd->add_option("--input-len", f.input_len, "prompt tokens, as for serve (default fixed:1024)");
  cmd->add_option("--output-len", f.output_len, "generated tokens (default fixed:256)");
  cmd->add_option("--weight-dtype", f.weight_dtype, "bf16|fp16|fp8|int8|int4|fp4");
  cmd->add_option("--kv-dtype", f.kv_dtype, "bf16|fp16|fp8");
  cmd->add_option("--seed", f.seed, "random seed (default 0)");
  cmd->add_option("--price-basis", f.price_basis,
                  "auto|cloud|owned (default auto: cloud where listed, else owned)")
      ->check(CLI::IsMember({"auto", "cloud", "owned"}));
  cmd->add_option("--hw", f.hw,
                  "comma-separated accelerator ids or files to consider (default: the catalog)");
  cmd->add_option("--stack", f.stack,
                  "serving engine of every candidate: a stack id or file, auto (each chip's "
                  "newest serving stack) or none (default auto)");
  cmd->add_flag("!--no-disaggregated", f.disaggregated,
                "consider colocated replicas only, not prefill/decode pools");
  return cmd;
}

void run_plan_command(const PlanFlags& f, const std::filesystem::path& data,
                      const std::string& format, const Context& ctx) {
  PlanRequest request;
  ServeConfig& b = request.base;
  b.model = load_model(f.model, data / "models");
  b.economics = load_economics(data / "economics.yaml");
  b.economics.price_basis = *parse_price_basis(f.price_basis);  // CLI11 checked the name
  b.weight_dtype = dtype_flag("--weight-dtype", f.weight_dtype);
  b.kv_dtype = dtype_flag("--kv-dtype", f.kv_dtype);
  b.scheduler = *parse_scheduler(f.scheduler);  // CLI11 checked the name
  b.slo.ttft = Seconds(f.slo_ttft);
  b.slo.tpot = Seconds(f.slo_tpot);
  b.workload.seed = f.seed;
  b.workload.num_requests = f.num_requests;
  b.workload.input = parse_length_distribution(f.input_len, "workload.input");
  b.workload.output = parse_length_distribution(f.output_len, "workload.output");
  validate_workload(b.workload);
  request.rate_requests_per_s = f.rate;
  request.disaggregated = f.disaggregated;
  if (f.hw.empty()) {
    request.accelerators = load_all_accelerators(data / "hardware");
  } else {
    std::stringstream ids(f.hw);
    for (std::string id; std::getline(ids, id, ',');)
      request.accelerators.push_back(load_accelerator(id, data / "hardware"));
  }
  for (const auto& hw : request.accelerators) {
    // An explicit stack that does not run on a chip leaves that chip without one.
    try {
      request.stacks.push_back(serving_stack_for(f.stack, hw, data));
    } catch (const Error&) {
      if (f.stack == "auto" || f.stack == "none") throw;
      request.stacks.emplace_back();
    }
  }
  request.progress = ctx.progress;  // the shell shows it (stderr, a terminal) or not
  const PlanResult result = plan_deployment(request);
  const auto checked = plan_json(request, result);
  if (format == "json")
    print_json(ctx.out, checked);
  else
    print_text(ctx.out, plan_text(request, result), checked);
}

}  // namespace xpusim::api

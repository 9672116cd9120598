#include "xpusim/api/serve_command.hpp"

#include "flags.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/serve_report.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/mlperf.hpp"
#include "xpusim/serve/plan.hpp"
#include "xpusim/serve/simulator.hpp"

namespace xpusim::api {

namespace {

[[noreturn]] void bad_flag(const char* flag, const std::string& what) {
  throw_input_error("command line", flag, what);
}

/// Lengths from --lengths-file (pairs kept), else from --input-len and --output-len.
void set_lengths(const ServeFlags& f, Workload& w) {
  if (f.lengths_file_option->count() == 0) {
    w.input = parse_length_distribution(f.input_len, "--input-len");
    w.output = parse_length_distribution(f.output_len, "--output-len");
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
  c.hw = load_accelerator(f.hw, data / "hardware");
  c.economics = load_economics(data / "economics.yaml");
  c.tensor_parallel = f.tp;
  c.pipeline_parallel = f.pp;
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
  cmd->add_option("--hw", f.hw, "catalog id or path to a YAML file")->required();
  cmd->add_option("--devices", f.devices, "devices in all (must equal replicas x tp x pp)");
  cmd->add_option("--tp", f.tp, "tensor parallelism inside a replica (default 1)");
  cmd->add_option("--pp", f.pp, "pipeline stages inside a replica (default 1)");
  f.replicas_option =
      cmd->add_option("--replicas", f.replicas, "replicas behind the load balancer (default 1)");
  cmd->add_option("--scheduler", f.scheduler,
                  "static|continuous|chunked|disaggregated (default continuous)")
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
  cmd->add_option("--max-batch", f.max_batch,
                  "sequences running at once per engine (vLLM max_num_seqs, default 256)");
  cmd->add_option("--max-batched-tokens", f.max_batched_tokens,
                  "tokens per iteration (vLLM max_num_batched_tokens, default 8192)");
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
  std::ofstream trace;
  if (!f.trace_file.empty()) {
    trace.open(f.trace_file);
    if (!trace) bad_flag("--trace", fmt::format("cannot write '{}'", f.trace_file));
  }
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
    if (format == "json") {
      ctx.out << mlperf_json(config, run).dump(2) << "\n";
    } else {
      ctx.out << mlperf_text(config, run);
    }
    return;
  }
  if (f.find_max_rate) {
    const MaxRateResult found = find_max_rate(config);
    if (format == "json") {
      ctx.out << max_rate_json(config, found).dump(2) << "\n";
    } else {
      ctx.out << max_rate_text(config, found);
    }
    if (trace.is_open()) trace << serve_trace(config, found.at_max).dump() << "\n";
    return;
  }
  config.progress = ctx.progress;
  const ServeResult result = simulate(config);
  if (format == "json") {
    ctx.out << serve_json(config, result).dump(2) << "\n";
  } else {
    ctx.out << serve_text(config, result);
  }
  if (trace.is_open()) trace << serve_trace(config, result).dump() << "\n";
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
  if (!(f.slo_ttft > 0))
    bad_flag("--slo-ttft-p99", fmt::format("expected > 0 s, got {}", f.slo_ttft));
  if (!(f.slo_tpot > 0))
    bad_flag("--slo-tpot-p99", fmt::format("expected > 0 s, got {}", f.slo_tpot));
  b.slo.ttft = Seconds(f.slo_ttft);
  b.slo.tpot = Seconds(f.slo_tpot);
  b.workload.seed = f.seed;
  b.workload.num_requests = f.num_requests;
  b.workload.input = parse_length_distribution(f.input_len, "--input-len");
  b.workload.output = parse_length_distribution(f.output_len, "--output-len");
  validate_workload(b.workload);
  request.rate_requests_per_s = f.rate;
  request.accelerators = load_all_accelerators(data / "hardware");
  request.progress = ctx.progress;
  const PlanResult result = plan_deployment(request);
  if (format == "json") {
    ctx.out << plan_json(request, result).dump(2) << "\n";
  } else {
    ctx.out << plan_text(request, result);
  }
}

}  // namespace xpusim::api

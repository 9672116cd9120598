#pragma once
// `xpusim serve`: flags in, one simulated serving run out.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/api/context.hpp"
#include "xpusim/serve/simulator.hpp"

#include "xpusim/hw/accelerator.hpp"
#include "xpusim/stack/stack.hpp"

namespace xpusim::api {

struct ServeFlags {
  std::string model;
  std::string hw;
  std::string system;          ///< instead of --hw: a system id or file
  std::string stack = "auto";  ///< a serving stack id or file, auto or none
  int devices = 0;             ///< 0: replicas x tp x ep x pp
  int tp = 1, pp = 1, ep = 1, replicas = 1;
  int decode_tp = 0, decode_ep = 0;  ///< disaggregated decode pool (0: as the prefill pool)
  int spec_tokens = 0;
  double spec_acceptance = 0.7;
  std::string spec_draft;  ///< draft model; empty: MTP layers
  double prefix_hit_rate = 0.0;
  int prefill_replicas = 1, decode_replicas = 1;  ///< --scheduler disaggregated
  std::string scheduler = "continuous";
  std::string load_balancer = "round_robin";
  std::string preemption = "recompute";
  double rate = 0.0;
  int64_t concurrency = 0;
  bool offline = false;
  std::string requests_file;
  int64_t num_requests = 1000;
  std::string input_len = "fixed:1024";
  std::string output_len = "fixed:256";
  std::string weight_dtype = "bf16";
  std::string kv_dtype = "bf16";
  uint64_t seed = 0;
  int64_t max_batch = 256;
  int64_t max_batched_tokens = 8192;
  int64_t block_size = 16;
  double gpu_memory_utilization = 0.9;
  double slo_ttft = 2.0;
  double slo_tpot = 0.2;
  std::string trace_file;
  bool find_max_rate = false;
  std::string lengths_file;
  std::vector<std::string> mlperf;  ///< SCENARIO BENCHMARK
  double min_duration_s = 0.0;
  int64_t warmup_requests = 0;
  int64_t cooldown_requests = 0;
  CLI::Option* lengths_file_option = nullptr;
  CLI::Option* input_len_option = nullptr;
  CLI::Option* output_len_option = nullptr;
  CLI::Option* num_requests_option = nullptr;
  CLI::Option* replicas_option = nullptr;
  CLI::Option* scheduler_option = nullptr;
  CLI::Option* max_batch_option = nullptr;
  CLI::Option* max_batched_tokens_option = nullptr;
  CLI::Option* prefill_replicas_option = nullptr;
  CLI::Option* decode_replicas_option = nullptr;
  // Which arrival flags were given.
  CLI::Option* rate_option = nullptr;
  CLI::Option* concurrency_option = nullptr;
  CLI::Option* offline_option = nullptr;
  CLI::Option* requests_file_option = nullptr;
};

/// --stack: none, auto (the newest serving stack that runs on `hw`, nullopt where none does),
/// or a serving stack id or file that runs on `hw`. Throws Error(kInput) otherwise.
[[nodiscard]] std::optional<StackSpec> serving_stack_for(const std::string& ref,
                                                         const AcceleratorSpec& hw,
                                                         const std::filesystem::path& data);

/// Declares the subcommand and its options on `app`, writing into `flags`.
CLI::App* add_serve_command(CLI::App& app, ServeFlags& flags);

struct PlanFlags {
  std::string model;
  double rate = 0.0;
  double slo_ttft = 2.0;
  double slo_tpot = 0.2;
  std::string scheduler = "chunked";
  int64_t num_requests = 300;
  std::string input_len = "fixed:1024";
  std::string output_len = "fixed:256";
  std::string weight_dtype = "bf16";
  std::string kv_dtype = "bf16";
  uint64_t seed = 0;
  std::string price_basis = "auto";
  std::string stack = "auto";
  std::string hw;             ///< comma-separated accelerator ids; empty: the whole catalog
  bool disaggregated = true;  ///< also consider disaggregated prefill/decode pools
};

/// `xpusim plan`: the cheapest deployment over the catalog for a rate and objectives.
CLI::App* add_plan_command(CLI::App& app, PlanFlags& flags);
void run_plan_command(const PlanFlags& flags, const std::filesystem::path& data,
                      const std::string& format, const Context& ctx);

/// The simulator's configuration from the flags (as `xpusim serve` runs it); throws
/// xpusim::Error on bad input.
[[nodiscard]] ServeConfig serve_config(const ServeFlags& flags, const std::filesystem::path& data);

/// Runs it; `format` is table or json. Throws xpusim::Error on bad input.
void run_serve_command(const ServeFlags& flags, const std::filesystem::path& data,
                       const std::string& format, const Context& ctx);

}  // namespace xpusim::api

#pragma once
// `xpusim train`: flags in, one step (or the search) out.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "xpusim/api/context.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim::api {

struct TrainFlags {
  std::string model;
  std::string system;
  std::string hw;              ///< with --nodes: a default system of this accelerator
  int nodes = 0;               ///< 0: the system file's node count
  int devices_per_node = 0;    ///< with --hw; 0: the default
  int devices_per_domain = 0;  ///< 0: every device of each scale-up domain
  int first_stage_layers = 0;  ///< 0: an even share
  int last_stage_layers = 0;
  std::string pipeline_layout;
  bool offload_optimizer = false;
  bool offload_activations = false;
  int tp = 1, pp = 1, vpp = 1, cp = 1, ep = 1;
  bool sp = false;
  int64_t global_batch = 0;
  int64_t micro_batch = 1;
  int64_t seq_len = 0;
  std::string recompute = "none";
  int zero = 0;
  std::string precision = "bf16";
  std::string stack;      ///< catalog id or path; empty: the default for the accelerator
  std::string attention;  ///< empty: the stack's kernel for the chip
  bool no_dp_overlap = false;
  bool tp_overlap = false;
  int fsdp_prefetch = -1;  ///< -1: the ZeRO-3 default (1)
  bool no_reshard_after_forward = false;
  bool reduce_per_step = false;
  bool fp8_all_gather = false;
  std::string reduce_dtype;  ///< empty: the default (bf16)
  double moe_load_imbalance = 1.0;
  int lora_rank = 0;
  double tokens = 0.0;
  std::string trace_file;
  bool search = false;
  int top = 10;
};

/// What one step is: the model, the system, the job and the plan the flags give.
struct TrainInputs {
  ModelSpec model;
  SystemSpec system;
  TrainingJob job;
  ParallelPlan plan;
};

/// The inputs of `xpusim train` without --search, checked; throws xpusim::Error on bad input.
[[nodiscard]] TrainInputs train_inputs(const TrainFlags& flags, const std::filesystem::path& data);

/// Declares the subcommand and its options on `app`, writing into `flags`.
CLI::App* add_train_command(CLI::App& app, TrainFlags& flags);

/// Runs it; `format` is table or json. Throws xpusim::Error on bad input.
void run_train_command(const TrainFlags& flags, const std::filesystem::path& data,
                       const std::string& format, const Context& ctx);

}  // namespace xpusim::api

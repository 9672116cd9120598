#pragma once
// `xpusim sensitivity infer|train|serve`: the workload's flags (those of infer, train, serve), and
// the change in its time and cost per +10% of each resource.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "xpusim/api/serve_command.hpp"
#include "xpusim/api/train_command.hpp"

namespace xpusim::api {

struct SensitivityFlags {
  double step_percent = 10.0;
  // infer
  std::string model, hw;
  int devices = 1;
  int64_t batch = 1, input_len = 128, output_len = 128;
  std::string weight_dtype = "bf16", kv_dtype = "bf16";
  TrainFlags train;
  ServeFlags serve;
  CLI::App* infer_cmd = nullptr;
  CLI::App* train_cmd = nullptr;
  CLI::App* serve_cmd = nullptr;
};

/// Declares `sensitivity` with its three workloads on `app`, writing into `flags`; `add_format`
/// adds --format to each.
CLI::App* add_sensitivity_command(CLI::App& app, SensitivityFlags& flags,
                                  const std::function<void(CLI::App*)>& add_format);

/// Runs it; `format` is table or json. Throws xpusim::Error on bad input.
void run_sensitivity_command(const SensitivityFlags& flags, const std::filesystem::path& data,
                             const std::string& format, const Context& ctx);

}  // namespace xpusim::api

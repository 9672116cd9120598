#pragma once
// `xpusim compare`: flags in, the serving (or, with --train, the training) comparison out.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "xpusim/api/context.hpp"

namespace xpusim::api {

struct CompareFlags {
  std::string model = "llama-2-70b";
  int64_t input_len = 1024;
  int64_t output_len = 256;
  int devices = 0;  ///< 0: natural placement (serving) or 64 (training)
  std::string weight_dtype = "bf16";
  std::string kv_dtype = "bf16";
  double max_ttft_s = 2.0;
  double max_tpot_s = 0.2;
  std::string price_basis = "auto";
  std::vector<std::string> prices;  ///< ID=USD_PER_HOUR
  std::vector<std::string> hw_add;  ///< accelerator YAML files that join the catalog's
  bool train = false;
  double tokens = 1e9;
  int64_t global_batch = 512;
  int64_t seq_len = 4096;
  std::string precision = "bf16";
  CLI::Option* devices_option = nullptr;
};

/// Declares the subcommand and its options on `app`, writing into `flags`.
CLI::App* add_compare_command(CLI::App& app, CompareFlags& flags);

/// Runs it; `format` is table, json or csv. Throws xpusim::Error on bad input.
void run_compare_command(const CompareFlags& flags, const std::filesystem::path& data,
                         const std::string& format, const Context& ctx);

}  // namespace xpusim::api

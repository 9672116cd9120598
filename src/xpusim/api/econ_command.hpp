#pragma once
// `xpusim tco` and `xpusim build-vs-buy`: flags in, the econ library's results out.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "xpusim/api/context.hpp"

namespace xpusim::api {

/// The workload whose throughput prices a token: a model served at a batch on TP devices, or
/// a throughput given outright.
struct ThroughputFlags {
  std::string model;
  int tp = 1;  ///< tensor-parallel devices per replica
  long long batch = 32;
  long long input_len = 1024;
  long long output_len = 256;
  std::string weight_dtype = "bf16";
};

struct TcoFlags {
  std::string hw;
  int devices = 1;
  double utilisation = 0.0;  ///< 0: data/economics.yaml's
  int years = 0;             ///< 0: the depreciation period
  double tokens_per_s = 0.0;
  double run_tokens = 0.0;
  ThroughputFlags workload;
};

struct BuildVsBuyFlags {
  std::string chip;      ///< chip YAML, derived on the fly
  std::string in_house;  ///< or an accelerator entry (id or path) with a purchase price
  std::string buy = "h100-sxm";
  std::string buy_basis = "owned";
  double workload_tokens_per_s = 0.0;
  double workload_devices = 0.0;  ///< or: the bought fleet that serves the workload
  double in_house_tokens_per_s = 0.0;
  double bought_tokens_per_s = 0.0;
  double software_efficiency = 0.0;  ///< 0: data/economics.yaml's
  double utilisation = 0.0;
  int years = 10;
  ThroughputFlags workload;
};

CLI::App* add_tco_command(CLI::App& app, TcoFlags& flags);
CLI::App* add_build_vs_buy_command(CLI::App& app, BuildVsBuyFlags& flags);

void run_tco_command(const TcoFlags& flags, const std::filesystem::path& data,
                     const std::string& format, const Context& ctx);
void run_build_vs_buy_command(const BuildVsBuyFlags& flags, const std::filesystem::path& data,
                              const std::string& format, const Context& ctx);

}  // namespace xpusim::api

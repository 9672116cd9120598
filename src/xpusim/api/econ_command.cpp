#include "xpusim/api/econ_command.hpp"

#include <fmt/format.h>

#include <iostream>

#include "xpusim/chip/derive.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/build_vs_buy.hpp"
#include "xpusim/econ/tco.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/econ_report.hpp"

namespace xpusim::api {

namespace {

void add_workload(CLI::App* cmd, ThroughputFlags& w, const std::string& what) {
  cmd->add_option("--model", w.model,
                  "catalog id or config.json whose served throughput prices " + what);
  cmd->add_option("--tp", w.tp, "tensor-parallel devices per replica (default 1)");
  cmd->add_option("--batch", w.batch, "requests per batch, capped at what fits (default 32)");
  cmd->add_option("--input-len", w.input_len, "prompt tokens (default 1024)");
  cmd->add_option("--output-len", w.output_len, "generated tokens (default 256)");
  cmd->add_option("--weight-dtype", w.weight_dtype, "bf16|fp16|fp8|int8|int4|fp4");
}

/// Generated tokens per second of one device of a TP replica serving `w`.
double served_tokens_per_s(const ThroughputFlags& w, const AcceleratorSpec& hw,
                           const std::filesystem::path& data, const Economics& economics) {
  const ModelSpec model = load_model(w.model, data / "models");
  InferenceRequest request;
  request.devices = w.tp;
  request.input_len = w.input_len;
  request.output_len = w.output_len;
  const auto dtype = parse_dtype(w.weight_dtype);
  if (!dtype)
    throw_input_error("command line", "--weight-dtype",
                      fmt::format("unknown data type '{}'", w.weight_dtype));
  request.weight_dtype = *dtype;
  validate_request(model, hw, request);
  const int64_t fits = max_batch_that_fits(model, hw, request);
  if (fits < 1)
    throw_input_error("command line", "--tp",
                      fmt::format("{} does not fit {} x {}; raise --tp", model.id, w.tp, hw.id));
  request.batch = std::min<int64_t>(w.batch, fits);
  return estimate_inference(model, hw, request, economics).throughput_tokens_per_s / w.tp;
}

void print(std::ostream& out, const nlohmann::json& json, const std::string& text,
           const std::string& format) {
  if (format == "json")
    out << json.dump(2) << "\n";
  else
    out << text;
}

}  // namespace

CLI::App* add_tco_command(CLI::App& app, TcoFlags& f) {
  auto* cmd = app.add_subcommand(
      "tco", "cost of owning a fleet against renting it, per device, per fleet, per token");
  cmd->add_option("--hw", f.hw, "catalog id or path to an accelerator YAML")->required();
  cmd->add_option("--devices", f.devices, "devices in the fleet (default 1)");
  cmd->add_option("--utilisation", f.utilisation,
                  "share of hours doing useful work (default: data/economics.yaml)");
  cmd->add_option("--years", f.years, "years of the table (default: the depreciation period)");
  cmd->add_option("--tokens-per-s", f.tokens_per_s,
                  "tokens per second of one busy device (instead of --model)");
  cmd->add_option("--run-tokens", f.run_tokens,
                  "tokens of one training run or job to price (needs a throughput)");
  add_workload(cmd, f.workload, "a token");
  return cmd;
}

void run_tco_command(const TcoFlags& f, const std::filesystem::path& data,
                     const std::string& format, const Context& ctx) {
  const Economics economics = load_economics(data / "economics.yaml");
  const AcceleratorSpec hw = load_accelerator(f.hw, data / "hardware");
  TcoRequest request;
  request.devices = f.devices;
  request.utilisation = f.utilisation > 0.0 ? f.utilisation : economics.utilisation;
  request.years = f.years > 0 ? f.years : static_cast<int>(economics.depreciation_years);
  if (f.tokens_per_s > 0.0)
    request.tokens_per_s_per_device = f.tokens_per_s;
  else if (!f.workload.model.empty())
    request.tokens_per_s_per_device = served_tokens_per_s(f.workload, hw, data, economics);
  if (f.run_tokens > 0.0) request.run_tokens = f.run_tokens;
  const TcoResult result = total_cost_of_ownership(hw, economics, request);
  print(ctx.out, tco_json(hw, economics, request, result), tco_text(hw, economics, request, result),
        format);
}

CLI::App* add_build_vs_buy_command(CLI::App& app, BuildVsBuyFlags& f) {
  auto* cmd = app.add_subcommand(
      "build-vs-buy", "an in-house chip program against buying or renting GPUs for the same work");
  auto* chip = cmd->add_option("--chip", f.chip, "chip YAML (data/chips/), derived on the fly");
  auto* in_house = cmd->add_option("--in-house", f.in_house,
                                   "or an accelerator id/path with a purchase price (unit cost)");
  chip->excludes(in_house);
  cmd->add_option("--buy", f.buy, "the accelerator bought instead (default h100-sxm)");
  cmd->add_option("--buy-basis", f.buy_basis, "owned|cloud (default owned)")
      ->check(CLI::IsMember({"owned", "cloud"}));
  auto* w = cmd->add_option("--workload-tokens-per-s", f.workload_tokens_per_s,
                            "average tokens per second the fleet must serve");
  auto* d = cmd->add_option("--workload-devices", f.workload_devices,
                            "or: the bought fleet size that serves the workload");
  w->excludes(d);
  cmd->add_option("--in-house-tokens-per-s", f.in_house_tokens_per_s,
                  "throughput of one in-house device (instead of --model)");
  cmd->add_option("--bought-tokens-per-s", f.bought_tokens_per_s,
                  "throughput of one bought device (instead of --model)");
  cmd->add_option("--software-efficiency", f.software_efficiency,
                  "share of modelled throughput the in-house stack reaches (default: "
                  "data/economics.yaml)");
  cmd->add_option("--utilisation", f.utilisation, "default: data/economics.yaml");
  cmd->add_option("--years", f.years, "horizon (default 10)");
  add_workload(cmd, f.workload, "both devices' work");
  return cmd;
}

void run_build_vs_buy_command(const BuildVsBuyFlags& f, const std::filesystem::path& data,
                              const std::string& format, const Context& ctx) {
  Economics economics = load_economics(data / "economics.yaml");
  if (f.software_efficiency > 0.0)
    economics.chip_program.software_efficiency = f.software_efficiency;
  if (f.chip.empty() && f.in_house.empty())
    throw_input_error("command line", "--chip", "missing (or --in-house)");
  const AcceleratorSpec in_house = f.chip.empty() ? load_accelerator(f.in_house, data / "hardware")
                                                  : load_derived_accelerator(f.chip, data);
  const AcceleratorSpec bought = load_accelerator(f.buy, data / "hardware");
  BuildVsBuyRequest request;
  request.buy = f.buy_basis == "cloud" ? BuyBasis::kCloud : BuyBasis::kOwned;
  request.utilisation = f.utilisation > 0.0 ? f.utilisation : economics.utilisation;
  request.years = f.years;
  const bool modelled = !f.workload.model.empty();
  request.in_house_tokens_per_s = f.in_house_tokens_per_s > 0.0 ? f.in_house_tokens_per_s
                                  : modelled
                                      ? served_tokens_per_s(f.workload, in_house, data, economics)
                                      : 0.0;
  request.bought_tokens_per_s = f.bought_tokens_per_s > 0.0 ? f.bought_tokens_per_s
                                : modelled
                                    ? served_tokens_per_s(f.workload, bought, data, economics)
                                    : 0.0;
  if (request.in_house_tokens_per_s <= 0.0 || request.bought_tokens_per_s <= 0.0)
    throw_input_error("command line", "--model",
                      "missing (or --in-house-tokens-per-s and --bought-tokens-per-s)");
  request.workload_tokens_per_s =
      f.workload_devices > 0.0
          ? f.workload_devices * request.bought_tokens_per_s * request.utilisation
          : f.workload_tokens_per_s;
  const double own = economics.chip_program.software_efficiency;
  request.efficiency_sweep = {0.3, 0.5, 0.7, 0.9, 1.0};
  if (std::find(request.efficiency_sweep.begin(), request.efficiency_sweep.end(), own) ==
      request.efficiency_sweep.end()) {
    request.efficiency_sweep.push_back(own);
    std::sort(request.efficiency_sweep.begin(), request.efficiency_sweep.end());
  }
  const BuildVsBuyResult result = build_vs_buy(in_house, bought, economics, request);
  print(ctx.out, build_vs_buy_json(in_house, bought, economics, request, result),
        build_vs_buy_text(in_house, bought, economics, request, result), format);
}

}  // namespace xpusim::api

#include "xpusim/api/compare_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iostream>

#include "xpusim/api/flags.hpp"
#include "xpusim/api/shell.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/compare_report.hpp"
#include "xpusim/study/compare.hpp"

namespace xpusim::api {

namespace {

[[noreturn]] void bad_flag(const char* flag, const std::string& what) {
  throw_input_error("command line", flag, what);
}

/// --price ID=USD_PER_HOUR, once per chip.
std::map<std::string, UsdPerHour> prices_from(const std::vector<std::string>& flags) {
  std::map<std::string, UsdPerHour> out;
  for (const auto& flag : flags) {
    const auto eq = flag.find('=');
    double usd = 0.0;
    const char* first = eq == std::string::npos ? nullptr : flag.data() + eq + 1;
    const char* last = flag.data() + flag.size();
    const auto parsed = first ? std::from_chars(first, last, usd) : std::from_chars_result{};
    if (eq == std::string::npos || eq == 0 || parsed.ec != std::errc() || parsed.ptr != last)
      bad_flag("--price", fmt::format("expected ID=USD_PER_DEVICE_HOUR, got '{}'", flag));
    const std::string id = flag.substr(0, eq);
    if (out.count(id)) bad_flag("--price", fmt::format("'{}' is priced twice", id));
    out.emplace(id, UsdPerHour(usd));
  }
  return out;
}

/// The catalog's accelerators with the --hw-add files after them, each with its natural node.
std::vector<Contender> contenders_from(const CompareFlags& f, const std::filesystem::path& data) {
  auto accelerators = load_all_accelerators(data / "hardware");
  for (const auto& path : f.hw_add) {
    AcceleratorSpec added = load_accelerator_file(path);
    for (const auto& a : accelerators) {
      if (a.id == added.id)
        bad_flag("--hw-add", fmt::format("{}: id '{}' is already taken by {}", path, added.id,
                                         a.file.string()));
    }
    accelerators.push_back(std::move(added));
  }
  return contenders_of(std::move(accelerators),
                       load_all_systems(data / "systems", data / "hardware"));
}

/// --price-basis and --price; every priced id must be a contender.
PriceOptions price_from(const CompareFlags& f, const std::vector<Contender>& contenders) {
  PriceOptions price;
  price.basis = *parse_price_basis(f.price_basis);  // CLI11 checked the name
  price.given = prices_from(f.prices);
  std::vector<std::string> ids;
  for (const auto& c : contenders) ids.push_back(c.hw.id);
  for (const auto& [id, usd] : price.given) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      bad_flag("--price",
               fmt::format("no accelerator '{}' in the comparison{}", id, did_you_mean(id, ids)));
    if (!(usd.value() > 0.0))
      bad_flag("--price",
               fmt::format("{}: expected USD per device-hour > 0, got {}", id, usd.value()));
  }
  return price;
}

void run_serving(const CompareFlags& f, const ModelSpec& model,
                 const std::vector<Contender>& contenders, const Economics& economics,
                 const std::string& format, const Context& ctx) {
  // One node holds at most a scale-up domain; a limit of a day is no limit (0 lifts one).
  constexpr int kMaxDevices = 1 << 16;
  constexpr double kMaxLimitS = 86400.0;
  if (f.devices_option->count() > 0 && (f.devices < 1 || f.devices > kMaxDevices))
    bad_flag("--devices", fmt::format("expected 1 to {}, got {}", kMaxDevices, f.devices));
  if (!(f.max_ttft_s >= 0 && f.max_ttft_s <= kMaxLimitS))
    bad_flag("--max-ttft-s",
             fmt::format("expected 0 (none) to {:g} s, got {}", kMaxLimitS, f.max_ttft_s));
  if (!(f.max_tpot_s >= 0 && f.max_tpot_s <= kMaxLimitS))
    bad_flag("--max-tpot-s",
             fmt::format("expected 0 (none) to {:g} s, got {}", kMaxLimitS, f.max_tpot_s));
  if (f.input_len < 1 || f.input_len > kMaxSequenceTokens)
    bad_flag("--input-len",
             fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, f.input_len));
  if (f.output_len < 1 || f.output_len > kMaxSequenceTokens)
    bad_flag("--output-len",
             fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, f.output_len));
  CompareOptions o;
  o.devices = f.devices;
  o.input_len = f.input_len;
  o.output_len = f.output_len;
  o.max_ttft = Seconds(f.max_ttft_s);
  o.max_tpot = Seconds(f.max_tpot_s);
  o.weight_dtype = dtype_flag("--weight-dtype", f.weight_dtype);
  o.kv_dtype = dtype_flag("--kv-dtype", f.kv_dtype);
  o.price = price_from(f, contenders);
  const CompareTable table = compare_inference(model, contenders, o, economics);
  const auto checked = compare_json(model, o, table);
  if (format == "json")
    print_json(ctx.out, checked);
  else if (format == "csv")
    print_text(ctx.out, compare_csv(table), checked);
  else
    print_text(ctx.out, compare_text(model, o, table), checked);
}

void run_training(const CompareFlags& f, const ModelSpec& model,
                  const std::vector<Contender>& contenders, const Economics& economics,
                  const std::string& format, const Context& ctx) {
  TrainCompareOptions o;
  o.devices = f.devices_option->count() > 0 ? f.devices : 64;
  if (o.devices < 1) bad_flag("--devices", fmt::format("expected at least 1, got {}", o.devices));
  if (!(f.tokens > 0 && f.tokens <= 1e16))
    bad_flag("--tokens", fmt::format("expected > 0 and at most 1e16, got {}", f.tokens));
  if (f.global_batch < 1 || f.global_batch > kMaxSequenceTokens)
    bad_flag("--global-batch",
             fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, f.global_batch));
  if (f.seq_len < 1 || f.seq_len > model.max_positions)
    bad_flag("--seq-len", fmt::format("expected 1 to the model's context of {} tokens, got {}",
                                      model.max_positions, f.seq_len));
  o.tokens = f.tokens;
  o.job.global_batch = f.global_batch;
  o.job.seq_len = f.seq_len;
  o.job.recipe = recipe_flag("--precision", f.precision);
  o.price = price_from(f, contenders);
  const TrainCompareTable table = compare_training(model, contenders, o, economics);
  const auto checked = train_compare_json(model, o, table);
  if (format == "json")
    print_json(ctx.out, checked);
  else if (format == "csv")
    print_text(ctx.out, train_compare_csv(table), checked);
  else
    print_text(ctx.out, train_compare_text(model, o, table), checked);
}

}  // namespace

CLI::App* add_compare_command(CLI::App& app, CompareFlags& f) {
  auto* cmd = app.add_subcommand(
      "compare", "one model on every accelerator at its natural node (or --train: a token budget)");
  cmd->add_option("--model", f.model, "catalog id or path (default llama-2-70b)");
  cmd->add_option("--input-len", f.input_len, "prompt tokens (default 1024)");
  cmd->add_option("--output-len", f.output_len, "generated tokens (default 256)");
  f.devices_option =
      cmd->add_option("--devices", f.devices,
                      "devices of every chip (default: each on its natural node; with --train 64)");
  cmd->add_option("--weight-dtype", f.weight_dtype, "bf16|fp16|fp8|int8|int4|fp4");
  cmd->add_option("--kv-dtype", f.kv_dtype, "bf16|fp16|fp8");
  cmd->add_option("--max-ttft-s", f.max_ttft_s,
                  "mean time-to-first-token limit in seconds, 0 for none (default 2)");
  cmd->add_option("--max-tpot-s", f.max_tpot_s,
                  "mean time-per-output-token limit in seconds, 0 for none (default 0.2)");
  cmd->add_option("--price-basis", f.price_basis,
                  "auto|cloud|owned (default auto: cloud when every row has a cloud price, else "
                  "owned)")
      ->check(CLI::IsMember({"auto", "cloud", "owned"}));
  cmd->add_option("--price", f.prices,
                  "ID=USD_PER_HOUR: a chip's price per device-hour on the table's basis "
                  "(repeatable)");
  cmd->add_option("--hw-add", f.hw_add, "an accelerator YAML that joins the catalog (repeatable)");
  cmd->add_flag("--train", f.train, "train a token budget on --devices devices of every chip");
  cmd->add_option("--tokens", f.tokens, "with --train: the token budget (default 1e9)");
  cmd->add_option("--global-batch", f.global_batch,
                  "with --train: sequences per step (default 512)");
  cmd->add_option("--seq-len", f.seq_len, "with --train: tokens per sequence (default 4096)");
  cmd->add_option("--precision", f.precision,
                  "with --train: bf16|fp8-delayed|fp8-current|fp8-blockwise|mxfp8|nvfp4");
  return cmd;
}

void run_compare_command(const CompareFlags& f, const std::filesystem::path& data,
                         const std::string& format, const Context& ctx) {
  const ModelSpec model = load_model(f.model, data / "models");
  const auto contenders = contenders_from(f, data);
  const Economics economics = load_economics(data / "economics.yaml");
  if (f.train)
    run_training(f, model, contenders, economics, format, ctx);
  else
    run_serving(f, model, contenders, economics, format, ctx);
}

}  // namespace xpusim::api

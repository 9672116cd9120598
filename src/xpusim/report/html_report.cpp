#include "xpusim/report/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int kWidth = 640;
constexpr int kHeight = 300;

// ---- Vega-Lite building blocks -------------------------------------------------------------

Json field(std::string_view name, std::string_view type, std::string_view title) {
  return {{"field", name}, {"type", type}, {"title", title}};
}

Json log_field(std::string_view name, std::string_view title) {
  Json f = field(name, "quantitative", title);
  f["scale"] = {{"type", "log"}};
  return f;
}

Json chart_spec(std::string_view title, Json values) {
  return {{"title", title},
          {"width", kWidth},
          {"height", kHeight},
          {"data", {{"values", std::move(values)}}}};
}

/// Horizontal bars of `value` per `category`, longest first.
Chart bar_chart(std::string_view title, Json values, std::string_view category,
                std::string_view category_title, std::string_view value,
                std::string_view value_title, std::string caption) {
  Json spec = chart_spec(title, std::move(values));
  spec["height"] = Json{{"step", 18}};
  Json y = field(category, "nominal", category_title);
  y["sort"] = "-x";
  spec["mark"] = {{"type", "bar"}, {"tooltip", true}};
  spec["encoding"] = {{"y", y}, {"x", field(value, "quantitative", value_title)}};
  return {spec, std::move(caption)};
}

/// One bar of parts stacked (GB), with a rule at the capacity.
Chart stacked_memory_chart(std::string_view title, const Json& breakdown_bytes,
                           double capacity_bytes, std::string caption) {
  Json parts = Json::array();
  for (const auto& [part, bytes] : breakdown_bytes.items()) {
    parts.push_back({{"part", part}, {"gb", bytes.get<double>() / 1e9}, {"what", "per device"}});
  }
  Json spec = chart_spec(title, Json::array());
  spec["height"] = 80;
  spec.erase("data");
  Json bars = {{"data", {{"values", parts}}},
               {"mark", {{"type", "bar"}, {"tooltip", true}}},
               {"encoding",
                {{"x", field("gb", "quantitative", "memory per device (GB, 10^9 bytes)")},
                 {"y", field("what", "nominal", "")},
                 {"color", field("part", "nominal", "part")}}}};
  Json rule = {{"data", {{"values", {{{"gb", capacity_bytes / 1e9}}}}}},
               {"mark", {{"type", "rule"}, {"color", "black"}, {"strokeDash", {4, 3}}}},
               {"encoding", {{"x", {{"field", "gb"}, {"type", "quantitative"}}}}}};
  spec["layer"] = {bars, rule};
  return {spec, std::move(caption)};
}

/// Points of `values` with the ones marked `pareto` joined as a front and the chosen one starred.
Chart pareto_chart(std::string_view title, Json values, std::string_view x,
                   std::string_view x_title, std::string_view y, std::string_view y_title,
                   std::string caption) {
  Json spec = chart_spec(title, std::move(values));
  Json points = {{"mark", {{"type", "point"}, {"filled", true}, {"size", 60}, {"tooltip", true}}},
                 {"encoding",
                  {{"x", field(x, "quantitative", x_title)},
                   {"y", field(y, "quantitative", y_title)},
                   {"color", field("group", "nominal", "")}}}};
  points["encoding"]["x"]["scale"] = {{"zero", false}};
  points["encoding"]["y"]["scale"] = {{"zero", false}};
  Json front = {{"transform", {{{"filter", "datum.pareto"}}}},
                {"mark", {{"type", "line"}, {"color", "#444"}, {"strokeDash", {2, 2}}}},
                {"encoding",
                 {{"x", {{"field", x}, {"type", "quantitative"}}},
                  {"y", {{"field", y}, {"type", "quantitative"}}},
                  {"order", {{"field", x}, {"type", "quantitative"}}}}}};
  Json chosen = {{"transform", {{{"filter", "datum.chosen"}}}},
                 {"mark",
                  {{"type", "point"},
                   {"shape", "diamond"},
                   {"size", 300},
                   {"filled", false},
                   {"strokeWidth", 2.5},
                   {"color", "crimson"}}},
                 {"encoding",
                  {{"x", {{"field", x}, {"type", "quantitative"}}},
                   {"y", {{"field", y}, {"type", "quantitative"}}}}}};
  Json label = chosen;
  label["mark"] = {{"type", "text"}, {"text", "chosen"}, {"dy", -16}, {"color", "crimson"}};
  spec["layer"] = {front, points, chosen, label};
  return {spec, std::move(caption)};
}

/// A line of `y` over `x`, with an optional dashed rule at `limit` on the x axis.
Chart line_chart(std::string_view title, Json values, Json x, Json y, std::string caption,
                 std::optional<double> x_limit = std::nullopt) {
  Json spec = chart_spec(title, Json::array());
  spec.erase("data");
  Json line = {{"data", {{"values", std::move(values)}}},
               {"mark", {{"type", "line"}, {"interpolate", "step-after"}, {"tooltip", true}}},
               {"encoding", {{"x", std::move(x)}, {"y", std::move(y)}}}};
  spec["layer"] = Json::array({line});
  if (x_limit) {
    const std::string x_field = line["encoding"]["x"]["field"];
    spec["layer"].push_back(
        {{"data", {{"values", {{{x_field, *x_limit}, {"label", "objective"}}}}}},
         {"mark", {{"type", "rule"}, {"color", "crimson"}, {"strokeDash", {4, 3}}}},
         {"encoding", {{"x", {{"field", x_field}, {"type", "quantitative"}}}}}});
  }
  return {spec, std::move(caption)};
}

/// A descriptive field as text ("?" when absent): captions must survive a field that a command
/// renames or drops, while the plotted figures stay required.
std::string text(const Json& j, std::string_view key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "?";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string number(const Json& j, std::string_view fmt_spec = "{:g}") {
  if (j.is_null()) return "n/a";
  return fmt::format(fmt::runtime(fmt_spec), j.get<double>());
}

std::string plan_label(const Json& p) {
  return fmt::format("tp{} pp{} vpp{} cp{} ep{} dp{}{} mb{} rc:{} zero{}", text(p, "tp"),
                     text(p, "pp"), text(p, "vpp"), text(p, "cp"), text(p, "ep"), text(p, "dp"),
                     p.at("sp").get<bool>() ? " sp" : "", text(p, "micro_batch"),
                     text(p, "recompute"), text(p, "zero"));
}

// ---- compare ---------------------------------------------------------------------------------

bool is_compare(const Json& j) {
  return j.is_object() && j.contains("rows") && j.contains("workload") && j.contains("price") &&
         j.at("rows").is_array() && (j.at("rows").empty() || j.at("rows")[0].contains("hw"));
}

HtmlReport compare_report(const Json& doc) {
  Json values = Json::array(), priced = Json::array();
  int cannot = 0;
  for (const auto& r : doc.at("rows")) {
    if (!r.value("runnable", false)) {
      ++cannot;
      continue;
    }
    Json v = {{"hw", r.at("hw")},
              {"devices", r.at("devices")},
              {"tokens_per_s_per_device", r.at("tokens_per_s_per_device")},
              {"tokens_per_s", r.at("tokens_per_s")},
              {"tokens_per_s_per_watt", r.at("tokens_per_s_per_watt")},
              {"usd_per_million_tokens", r.at("cost_per_million_tokens_usd")},
              {"placement", text(r, "placement")}};
    if (!v["usd_per_million_tokens"].is_null()) priced.push_back(v);
    values.push_back(std::move(v));
  }
  const Json& w = doc.at("workload");
  const Json& price = doc.at("price");
  const std::string setting = fmt::format(
      "{}, {} input / {} output tokens, weights {}, KV cache {}, {} batching under TTFT <= {} s "
      "and TPOT <= {} s",
      text(doc, "model"), text(w, "input_len"), text(w, "output_len"), text(w, "weight_dtype"),
      text(w, "kv_dtype"), text(w, "batching"), text(w, "max_ttft_s"), text(w, "max_tpot_s"));
  const std::string placement = fmt::format(
      "Each accelerator at its natural node (the placement in the tooltip); {} that "
      "cannot run it are left out.",
      cannot);
  HtmlReport report{"compare", setting, {}};
  report.charts.push_back(bar_chart(
      "Throughput per device", values, "hw", "accelerator", "tokens_per_s_per_device",
      "generated tokens/s per device",
      fmt::format("{}. {} Throughput counts generated tokens, divided by the devices of the "
                  "deployment.",
                  setting, placement)));
  report.charts.push_back(bar_chart(
      "Cost per million generated tokens", priced, "hw", "accelerator", "usd_per_million_tokens",
      "cost (USD per million generated tokens)",
      fmt::format("{}. {} One price basis for all: {} ({}); electricity {} USD/kWh, PUE {}, "
                  "depreciation over {} years. Accelerators without a price on it are left out.",
                  setting, placement, text(price, "basis"), text(price, "why"),
                  text(price.value("assumptions", Json::object()), "electricity_usd_per_kwh"),
                  text(price.value("assumptions", Json::object()), "pue"),
                  text(price.value("assumptions", Json::object()), "depreciation_years"))));
  report.charts.push_back(
      bar_chart("Energy efficiency", values, "hw", "accelerator", "tokens_per_s_per_watt",
                "generated tokens/s per watt of TDP",
                fmt::format("{}. {} Assumes every device draws its TDP the whole time.", setting,
                            placement)));
  return report;
}

// ---- infer -----------------------------------------------------------------------------------

bool is_infer(const Json& j) {
  return j.is_object() && j.contains("prefill") && j.contains("decode_last_step") &&
         j.contains("hw");
}

Chart roofline_chart(const Json& r) {
  const Json& roof = r.at("roofline");
  const double bandwidth = roof.at("memory_bandwidth_bytes_per_s");
  Json ops = Json::array();
  double lo = 1e300, hi = 0.0;
  for (const auto* phase : {"prefill", "decode_last_step"}) {
    for (const auto& [name, op] : r.at(phase).at("operators").items()) {
      const double flops = op.at("flops"), bytes = op.at("bytes"), time = op.at("time_s");
      if (flops <= 0 || bytes <= 0 || time <= 0) continue;
      const double intensity = flops / bytes;
      lo = std::min(lo, intensity);
      hi = std::max(hi, intensity);
      ops.push_back({{"phase", phase == std::string_view("prefill") ? "prefill" : "decode step"},
                     {"operator", name},
                     {"intensity_flops_per_byte", intensity},
                     {"achieved_flops_per_s", flops / time},
                     {"time_s", time}});
    }
  }
  Json ceilings = Json::array();
  for (const auto& [dtype, peak_json] : roof.at("peak_dense_flops_per_s").items()) {
    const double peak = peak_json, ridge = peak / bandwidth;
    lo = std::min(lo, ridge);
    hi = std::max(hi, ridge);
    for (double x : {std::min(lo, ridge) / 4, ridge, std::max(hi, ridge) * 4}) {
      ceilings.push_back({{"ceiling", fmt::format("{} dense peak", dtype)},
                          {"intensity_flops_per_byte", x},
                          {"achieved_flops_per_s", std::min(peak, x * bandwidth)}});
    }
  }
  Json spec = chart_spec(fmt::format("Roofline of {}", text(r, "hw")), Json::array());
  spec.erase("data");
  const Json x = log_field("intensity_flops_per_byte", "arithmetic intensity (FLOP/byte)");
  Json y = log_field("achieved_flops_per_s", "attained (FLOP/s per device)");
  y["axis"] = {{"format", "~s"}};
  Json roof_layer = {
      {"data", {{"values", ceilings}}},
      {"mark", {{"type", "line"}, {"color", "#555"}}},
      {"encoding", {{"x", x}, {"y", y}, {"strokeDash", field("ceiling", "nominal", "ceiling")}}}};
  Json op_layer = {{"data", {{"values", ops}}},
                   {"mark", {{"type", "point"}, {"filled", true}, {"size", 80}, {"tooltip", true}}},
                   {"encoding",
                    {{"x", x},
                     {"y", y},
                     {"color", field("operator", "nominal", "operator")},
                     {"shape", field("phase", "nominal", "phase")}}}};
  spec["layer"] = {roof_layer, op_layer};
  return {
      spec,
      "Each operator kind placed at its FLOPs over the bytes it moves to and from device memory "
      "(per device of the tensor-parallel group), summed over the whole prefill and over the "
      "last decode step; attained rate = its FLOPs over its modelled time. Ceilings: the chip's "
      "dense matrix peak (catalog) and memory bandwidth (catalog, not derated). Tensor-parallel "
      "communication moves no FLOPs and is not placed."};
}

Chart time_breakdown_chart(const Json& r) {
  Json values = Json::array();
  for (const auto* phase : {"prefill", "decode_last_step"}) {
    for (const auto& [name, op] : r.at(phase).at("operators").items()) {
      values.push_back({{"phase", phase == std::string_view("prefill") ? "prefill" : "decode step"},
                        {"operator", name},
                        {"time_s", op.at("time_s")}});
    }
  }
  Json spec = chart_spec("Time by operator", values);
  spec["height"] = 120;
  Json x = field("time_s", "quantitative", "share of the phase's time (%), tooltip in s");
  x["stack"] = "normalize";
  x["axis"] = {{"format", "%"}};
  spec["mark"] = {{"type", "bar"}, {"tooltip", true}};
  spec["encoding"] = {{"y", field("phase", "nominal", "")},
                      {"x", x},
                      {"color", field("operator", "nominal", "operator")}};
  return {spec, fmt::format("Modelled kernel time per operator kind: the whole prefill ({} s) and "
                            "the last decode step ({} s, its KV cache at its longest).",
                            number(r.at("prefill").at("time_s"), "{:.4g}"),
                            number(r.at("decode_last_step").at("time_s"), "{:.4g}"))};
}

HtmlReport infer_report(const Json& r) {
  const std::string setting = fmt::format(
      "{} on {} x {} (tensor parallel), batch {}, {} input / {} output tokens, weights {}, KV {}",
      text(r, "model"), text(r, "devices"), text(r, "hw"), text(r, "batch"), text(r, "input_len"),
      text(r, "output_len"), text(r, "weight_dtype"), text(r, "kv_dtype"));
  HtmlReport report{"infer", setting, {}};
  report.charts.push_back(roofline_chart(r));
  report.charts.push_back(time_breakdown_chart(r));
  report.charts.push_back(stacked_memory_chart(
      "Memory per device", r.at("memory_breakdown_bytes"), r.at("memory_capacity_per_device_bytes"),
      fmt::format("{}. Dashed line: the device's memory capacity ({} GB).", setting,
                  number(r.at("memory_capacity_per_device_bytes").get<double>() / 1e9, "{:.1f}"))));
  return report;
}

// ---- train -----------------------------------------------------------------------------------

bool is_train(const Json& j) {
  return j.is_object() && j.contains("step_time_s") && j.contains("breakdown") &&
         j.contains("plan");
}

std::string train_setting(const Json& r) {
  return fmt::format("{} on {} ({} devices), global batch {} x {} tokens, {}", text(r, "model"),
                     text(r, "system"), text(r, "devices"), text(r, "global_batch"),
                     text(r, "seq_len"),
                     (r.contains("precision") ? text(r, "precision") : text(r, "dtype")));
}

Chart schedule_chart(const Json& schedule, int pp) {
  Json ops = schedule.at("ops");
  Json spec = chart_spec("Pipeline schedule of one step", ops);
  spec["height"] = std::max(60, 28 * pp);
  spec["mark"] = {{"type", "bar"}, {"tooltip", true}};
  Json y = field("stage", "ordinal", "pipeline stage");
  spec["encoding"] = {
      {"x", field("start_s", "quantitative", "time in the step (s)")},
      {"x2", {{"field", "end_s"}}},
      {"y", y},
      {"color", field("pass", "nominal", "pass")},
      {"opacity", {{"value", 0.85}}},
      {"tooltip",
       {field("stage", "ordinal", "stage"), field("chunk", "ordinal", "chunk"),
        field("micro_batch", "ordinal", "micro-batch"), field("pass", "nominal", "pass"),
        field("start_s", "quantitative", "start s"), field("end_s", "quantitative", "end s")}}};
  std::string caption = fmt::format(
      "1F1B (interleaved with virtual stages) simulated op by op over {} s; each bar "
      "is one model chunk of one micro-batch, forward or backward. Stage-to-stage "
      "sends, the exposed gradient reduction and the optimizer step are in the "
      "breakdown, not drawn here (train --trace writes them as a Chrome trace).",
      number(schedule.at("length_s"), "{:.4g}"));
  if (schedule.at("truncated").get<bool>())
    caption += fmt::format(" Only the first {} ops are drawn.", ops.size());
  return {spec, caption};
}

HtmlReport train_report(const Json& r) {
  const std::string setting = train_setting(r);
  HtmlReport report{"train", fmt::format("{}: {}", setting, plan_label(r.at("plan"))), {}};
  Json parts = Json::array();
  for (const auto& [part, seconds] : r.at("breakdown").items()) {
    std::string name = part;
    if (name.size() > 2 && name.ends_with("_s")) name.resize(name.size() - 2);
    parts.push_back({{"part", name}, {"time_s", seconds}});
  }
  report.charts.push_back(bar_chart(
      "Step time breakdown", parts, "part", "component", "time_s", "time per step (s)",
      fmt::format("{}, plan {}: step {} s. Components as xpusim train adds them up "
                  "(docs/model.md): communication is the exposed part, bubble the idle time of "
                  "the pipeline.",
                  setting, plan_label(r.at("plan")), number(r.at("step_time_s"), "{:.4g}"))));
  report.charts.push_back(stacked_memory_chart(
      "Memory per device", r.at("memory_breakdown_bytes"), r.at("memory_capacity_per_device_bytes"),
      fmt::format("The most loaded device (pipeline stage {}). Dashed line: its memory capacity "
                  "({} GB).",
                  text(r, "memory_stage"),
                  number(r.at("memory_capacity_per_device_bytes").get<double>() / 1e9, "{:.1f}"))));
  if (r.contains("pipeline_schedule") && !r.at("pipeline_schedule").is_null())
    report.charts.push_back(schedule_chart(r.at("pipeline_schedule"), r.at("plan").value("pp", 1)));
  return report;
}

// ---- train --search --------------------------------------------------------------------------

bool is_search(const Json& j) {
  return j.is_array() && !j.empty() && j[0].is_object() && is_train(j[0]);
}

HtmlReport search_report(const Json& ranked) {
  Json values = Json::array();
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    const Json& r = ranked[i];
    values.push_back({{"rank", i + 1},
                      {"plan", plan_label(r.at("plan"))},
                      {"step_time_s", r.at("step_time_s")},
                      {"memory_gb", r.at("memory_per_device_bytes").get<double>() / 1e9},
                      {"mfu", r.at("mfu")},
                      {"chosen", i == 0}});
  }
  // The front of step time against memory per device: no other plan is better in both.
  for (auto& v : values) {
    const double t = v["step_time_s"], m = v["memory_gb"];
    bool dominated = false;
    for (const auto& w : values) {
      const double wt = w["step_time_s"], wm = w["memory_gb"];
      dominated = dominated || (wt <= t && wm <= m && (wt < t || wm < m));
    }
    v["pareto"] = !dominated;
    v["group"] = dominated ? "dominated" : "Pareto front";
  }
  const std::string setting = train_setting(ranked[0]);
  HtmlReport report{"search", fmt::format("{}: the best {} plans", setting, ranked.size()), {}};
  report.charts.push_back(pareto_chart(
      "Plans: step time against memory", values, "memory_gb", "memory per device (GB, 10^9 bytes)",
      "step_time_s", "step time (s)",
      fmt::format("{}: the {} fastest plans that fit, as train --search ranked them (--top sets "
                  "how many). Pareto front: no other plan shown is both faster and lighter in "
                  "memory per device. Chosen: the fastest.",
                  setting, ranked.size())));
  report.charts.push_back(bar_chart("Model FLOPs utilisation per plan", values, "plan", "plan",
                                    "mfu", "MFU (share of the dense peak)",
                                    fmt::format("{}: model FLOPs (6 N D convention of the "
                                                "training report) over the devices' dense peak.",
                                                setting)));
  return report;
}

// ---- serve -----------------------------------------------------------------------------------

bool is_serve(const Json& j) {
  return j.is_object() && j.contains("timeline") && j.contains("ttft_s") && j.contains("scheduler");
}

std::optional<Chart> cdf_chart(const Json& r, std::string_view key, std::string_view name,
                               std::optional<double> objective, const std::string& setting) {
  const Json& summary = r.at(key);
  if (!summary.contains("percentiles") || summary.at("percentiles").empty()) return std::nullopt;
  Json values = Json::array();
  const Json& p = summary.at("percentiles");
  for (std::size_t i = 0; i < p.size(); ++i)
    values.push_back({{"latency_s", p[i]}, {"share", static_cast<double>(i) / 100.0}});
  Json y = field("share", "quantitative", "share of completed requests");
  y["axis"] = {{"format", "%"}};
  std::string caption = fmt::format(
      "{}: the distribution of {} over completed requests, read "
      "from its 101 whole percentiles (nearest rank).",
      setting, name);
  if (objective) caption += fmt::format(" Dashed line: the objective ({} s).", *objective);
  return line_chart(fmt::format("{} CDF", name), values,
                    field("latency_s", "quantitative", fmt::format("{} (s)", name)), y, caption,
                    objective);
}

HtmlReport serve_report(const Json& r) {
  const Json& w = r.at("workload");
  const std::string rate =
      w.contains("rate_requests_per_s") && !w.at("rate_requests_per_s").is_null()
          ? fmt::format(" at {} requests/s", number(w.at("rate_requests_per_s")))
          : "";
  const std::string setting = fmt::format(
      "{} on {} x {} (tp {}, pp {}, {} replicas), {} batching, {} requests ({} arrivals{}), seed "
      "{}",
      text(r, "model"), text(r, "devices"), text(r, "hw"), text(r, "tp"), text(r, "pp"),
      text(r, "replicas"), text(r, "scheduler"), text(r, "requests"), text(w, "arrival"), rate,
      text(r, "seed"));
  HtmlReport report{"serve", setting, {}};
  const Json& slo = r.at("slo");
  for (auto chart :
       {cdf_chart(r, "ttft_s", "time to first token", slo.at("ttft_s").get<double>(), setting),
        cdf_chart(r, "tpot_s", "time per output token", slo.at("tpot_s").get<double>(), setting),
        cdf_chart(r, "e2e_latency_s", "end-to-end latency", std::nullopt, setting)}) {
    if (chart) report.charts.push_back(std::move(*chart));
  }
  Json timeline = r.at("timeline");
  report.charts.push_back(line_chart(
      "Running sequences over time", timeline,
      field("time_s", "quantitative", "simulated time (s)"),
      field("running", "quantitative", "sequences running (all engines)"),
      fmt::format("{}: the batch, summed over engines, sampled at up to a few hundred points "
                  "of the run (at most {} per engine).",
                  setting, text(r, "max_batch"))));
  Json kv = field("kv_utilization", "quantitative", "KV-cache blocks in use (%)");
  kv["axis"] = {{"format", "%"}};
  report.charts.push_back(line_chart(
      "KV-cache use over time", timeline, field("time_s", "quantitative", "simulated time (s)"), kv,
      fmt::format("{}: blocks in use over all blocks of all engines ({} blocks of {} tokens per "
                  "engine).",
                  setting, text(r.at("kv_cache"), "blocks_per_engine"), text(r, "block_size"))));
  return report;
}

// ---- plan ------------------------------------------------------------------------------------

bool is_plan(const Json& j) {
  return j.is_object() && j.contains("candidates") && j.contains("cheapest");
}

HtmlReport plan_report(const Json& r) {
  const Json& cheapest = r.at("cheapest");
  auto same = [&](const Json& c) {
    return !cheapest.is_null() && c.at("hw") == cheapest.at("hw") &&
           c.at("tp") == cheapest.at("tp") && c.at("max_batch") == cheapest.at("max_batch") &&
           c.at("replicas") == cheapest.at("replicas");
  };
  Json values = Json::array();
  for (const auto& c : r.at("candidates")) {
    if (!c.contains("usd_per_hour") || c.at("usd_per_hour").is_null() ||
        !c.contains("tpot_p99_s") || c.at("tpot_p99_s").is_null())
      continue;
    values.push_back(
        {{"deployment", fmt::format("{} x{} tp{} batch<={}", text(c, "hw"), text(c, "replicas"),
                                    text(c, "tp"), text(c, "max_batch"))},
         {"usd_per_hour", c.at("usd_per_hour")},
         {"tpot_p99_s", c.at("tpot_p99_s")},
         {"ttft_p99_s", c.at("ttft_p99_s")},
         {"pareto", c.at("pareto")},
         {"chosen", same(c)},
         {"group", c.at("meets_slo").get<bool>() ? "meets the objectives" : "misses them"}});
  }
  const std::string setting =
      fmt::format("{} at {} requests/s, p99 objectives TTFT {} s and TPOT {} s", text(r, "model"),
                  number(r.at("rate_requests_per_s")), number(r.at("slo_ttft_p99_s")),
                  number(r.at("slo_tpot_p99_s")));
  HtmlReport report{"plan", setting, {}};
  report.charts.push_back(pareto_chart(
      "Deployments: cost against p99 TPOT", values, "tpot_p99_s", "p99 time per output token (s)",
      "usd_per_hour", "deployment cost (USD per hour)",
      fmt::format("{}: every priced candidate, the whole deployment simulated at the rate ({} "
                  "simulations). Cost: devices x the catalog's hourly price (cloud on-demand, "
                  "else owned). Pareto front as plan marks it: no other candidate both cheaper "
                  "and lower in p99 TPOT. Chosen: the cheapest that meets the objectives.",
                  setting, text(r, "simulations"))));
  return report;
}

// ---- validate --------------------------------------------------------------------------------

bool is_public_validation(const Json& j) {
  return j.is_object() && j.contains("records") && j.contains("per_row_tolerance");
}

bool is_validate(const Json& j) {
  return is_public_validation(j) || (j.is_object() && j.contains("public") && j.contains("dev"));
}

std::string metric_unit(const std::string& metric) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kUnits = {{
      {"ttft_s", "s"},
      {"tpot_s", "s"},
      {"megatron_tflops_per_gpu", "TFLOP/s per GPU"},
      {"model_tflops_per_device", "TFLOP/s per device"},
      {"tokens_per_s_per_device", "tokens/s per device"},
  }};
  for (const auto& [name, unit] : kUnits) {
    if (name == metric) return std::string(unit);
  }
  return metric;
}

/// Predicted against measured for one metric, on log axes, each record with its tolerance band.
Chart validation_chart(const std::string& set, const std::string& metric, const Json& points) {
  double lo = 1e300, hi = 0.0;
  for (const auto& p : points) {
    for (const char* k : {"measured", "predicted", "band_low", "band_high"}) {
      lo = std::min(lo, p.at(k).get<double>());
      hi = std::max(hi, p.at(k).get<double>());
    }
  }
  const std::string unit = metric_unit(metric);
  const Json x = log_field("measured", fmt::format("measured ({})", unit));
  const Json y = log_field("predicted", fmt::format("predicted ({})", unit));
  Json spec =
      chart_spec(fmt::format("{}: {} predicted against measured", set, metric), Json::array());
  spec.erase("data");
  spec["height"] = kWidth / 2 + 40;
  Json diagonal = {
      {"data",
       {{"values",
         {{{"measured", lo}, {"predicted", lo}}, {{"measured", hi}, {"predicted", hi}}}}}},
      {"mark", {{"type", "line"}, {"color", "#999"}}},
      {"encoding", {{"x", x}, {"y", y}}}};
  Json band = {{"data", {{"values", points}}},
               {"mark", {{"type", "rule"}, {"strokeWidth", 6}, {"opacity", 0.25}}},
               {"encoding",
                {{"x", x},
                 {"y", log_field("band_low", fmt::format("predicted ({})", unit))},
                 {"y2", {{"field", "band_high"}}},
                 {"color", field("family", "nominal", "family")}}}};
  Json dots = {{"data", {{"values", points}}},
               {"mark", {{"type", "point"}, {"filled", true}, {"size", 50}, {"tooltip", true}}},
               {"encoding",
                {{"x", x},
                 {"y", y},
                 {"color", field("family", "nominal", "family")},
                 {"shape", field("status", "nominal", "status")},
                 {"tooltip",
                  {field("id", "nominal", "record"), field("measured", "quantitative", "measured"),
                   field("predicted", "quantitative", "predicted"),
                   field("relative_error", "quantitative", "relative error"),
                   field("tolerance", "quantitative", "tolerance")}}}}};
  spec["layer"] = {diagonal, band, dots};
  return {spec, fmt::format("{} records of {}: each point is one published measurement against "
                            "xpusim's prediction from the record's own configuration; the "
                            "shaded bar is the record's tolerance (measured x (1 +/- "
                            "tolerance)), the grey line is prediction = measurement.",
                            points.size(), set)};
}

void add_validation_charts(HtmlReport& report, const std::string& set, const Json& records,
                           const std::function<Json(const Json&)>& point_of) {
  std::map<std::string, Json> by_metric;
  for (const auto& rec : records) {
    Json p = point_of(rec);
    if (p.is_null()) continue;
    auto& list = by_metric[text(rec, "metric")];
    if (list.is_null()) list = Json::array();
    list.push_back(std::move(p));
  }
  for (const auto& [metric, points] : by_metric)
    report.charts.push_back(validation_chart(set, metric, points));
}

Json with_band(Json p, double tolerance) {
  const double measured = p.at("measured");
  p["tolerance"] = tolerance;
  p["band_low"] = measured * (1.0 - tolerance);
  p["band_high"] = measured * (1.0 + tolerance);
  return p;
}

HtmlReport validate_report(const Json& j) {
  const Json& pub = is_public_validation(j) ? j : j.at("public");
  HtmlReport report{"validate", text(pub, "title"), {}};
  const double tolerance = pub.at("per_row_tolerance");
  add_validation_charts(report, "published set", pub.at("records"), [&](const Json& rec) {
    return with_band({{"id", rec.at("id")},
                      {"measured", rec.at("measured")},
                      {"predicted", rec.at("predicted")},
                      {"relative_error", rec.at("relative_error")},
                      {"family", rec.at("metric")},
                      {"status", "counted"}},
                     tolerance);
  });
  if (j.contains("dev")) {
    add_validation_charts(
        report, "development set", j.at("dev").at("records"), [](const Json& rec) {
          if (rec.at("predicted").is_null()) return Json();
          return with_band({{"id", rec.at("id")},
                            {"measured", rec.at("measured")},
                            {"predicted", rec.at("predicted")},
                            {"relative_error", rec.at("relative_error")},
                            {"family", rec.at("framework")},
                            {"status", rec.at("runs").get<bool>() ? "counted" : "provisional"}},
                           rec.at("tolerance").get<double>());
        });
  }
  return report;
}

// ---- sensitivity -----------------------------------------------------------------------------

bool is_sensitivity(const Json& j) {
  return j.is_object() && j.contains("rows") && j.contains("base") && j.contains("step") &&
         j.contains("time_metric");
}

HtmlReport sensitivity_report(const Json& doc) {
  Json values = Json::array();
  std::vector<std::string> unmodelled;
  for (const auto& r : doc.at("rows")) {
    if (!r.value("modelled", false) || !r.contains("time_change")) {
      unmodelled.push_back(text(r, "resource"));
      continue;
    }
    values.push_back({{"resource", r.at("resource")},
                      {"time_change", r.at("time_change")},
                      {"cost_change", r.contains("cost_change") ? r.at("cost_change") : Json()}});
  }
  const std::string step = fmt::format("{:g}%", doc.at("step").get<double>() * 100);
  const std::string setting = text(doc, "workload");
  HtmlReport report{"sensitivity", setting, {}};
  const std::string why = fmt::format(
      "{}: each resource of the chip grown by {} alone, everything else as it is.{}", setting, step,
      unmodelled.empty()
          ? std::string()
          : fmt::format(" Not modelled, so not drawn: {}.", fmt::join(unmodelled, ", ")));
  Chart time = bar_chart(
      fmt::format("Change in {} per +{} of each resource", text(doc, "time_metric"), step), values,
      "resource", "resource", "time_change", "relative change in time (negative is faster)", why);
  time.spec["encoding"]["x"]["axis"] = {{"format", "%"}};
  report.charts.push_back(std::move(time));
  Chart cost = bar_chart(
      fmt::format("Change in {} per +{} of each resource", text(doc, "cost_metric"), step), values,
      "resource", "resource", "cost_change", "relative change in cost (negative is cheaper)",
      why + " The cost keeps the chip's price as it is.");
  cost.spec["encoding"]["x"]["axis"] = {{"format", "%"}};
  report.charts.push_back(std::move(cost));
  return report;
}

// ---- the table of kinds ----------------------------------------------------------------------

struct Kind {
  std::string_view name;
  bool (*matches)(const Json&);
  HtmlReport (*build)(const Json&);
};

// Search before compare and train: its rows are train results in an array.
constexpr std::array<Kind, 8> kKinds = {{
    {"search", is_search, search_report},
    {"sensitivity", is_sensitivity, sensitivity_report},
    {"compare", is_compare, compare_report},
    {"infer", is_infer, infer_report},
    {"train", is_train, train_report},
    {"serve", is_serve, serve_report},
    {"plan", is_plan, plan_report},
    {"validate", is_validate, validate_report},
}};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(Error::Kind::kNotFound,
                fmt::format("{}: cannot read the charting script (run npm ci in tools/report)",
                            path.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Text safe inside a <script> element: only "</script" (any case) would end it early, and
/// "<\/script" means the same in a JavaScript string or regular expression and in JSON.
std::string script_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  constexpr std::string_view kEnd = "</script";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::string_view rest = text.substr(i, kEnd.size());
    const bool closes = rest.size() == kEnd.size() &&
                        std::equal(rest.begin(), rest.end(), kEnd.begin(), [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) == b;
                        });
    if (closes) {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

constexpr std::string_view kStyle = R"(
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.3em; } .meta { color: #555; }
section.chart { margin: 2em 0; } p.caption { color: #444; font-size: 0.9em; max-width: 50em; }
)";

// Renders every chart as SVG, then marks the body so that a test (or a person) can tell.
constexpr std::string_view kRender = R"(
const specs = JSON.parse(document.getElementById('xpusim-specs').textContent);
Promise.all(specs.map((spec, i) =>
  vegaEmbed('#chart-' + i, spec, {mode: 'vega-lite', renderer: 'svg', actions: false})))
  .then(() => { document.body.dataset.rendered = 'true'; })
  .catch((e) => { document.body.dataset.rendered = 'error: ' + e; console.error(e); });
)";

}  // namespace

ChartScripts load_chart_scripts(const fs::path& node_modules) {
  return {read_file(node_modules / "vega" / "build" / "vega.min.js"),
          read_file(node_modules / "vega-lite" / "build" / "vega-lite.min.js"),
          read_file(node_modules / "vega-embed" / "build" / "vega-embed.min.js")};
}

std::vector<std::string> report_kinds() {
  std::vector<std::string> names;
  for (const auto& k : kKinds) names.emplace_back(k.name);
  return names;
}

HtmlReport build_report(const Json& result, const std::string& source) {
  for (const auto& kind : kKinds) {
    if (!kind.matches(result)) continue;
    try {
      return kind.build(result);
    } catch (const Json::exception& e) {
      throw Error(Error::Kind::kInput,
                  fmt::format("{}: not a complete {} result: {}", source, kind.name, e.what()));
    }
  }
  throw Error(Error::Kind::kInput,
              fmt::format("{}: expected the JSON of one of xpusim {}, got none of them", source,
                          fmt::join(report_kinds(), ", ")));
}

std::string html_page(const HtmlReport& report, const ChartScripts& scripts) {
  Json specs = Json::array();
  std::string sections;
  for (std::size_t i = 0; i < report.charts.size(); ++i) {
    specs.push_back(report.charts[i].spec);
    sections += fmt::format(
        "<section class=\"chart\"><div id=\"chart-{}\"></div>\n<p class=\"caption\">{}</p>"
        "</section>\n",
        i, html_escape(report.charts[i].caption));
  }
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += fmt::format("<title>xpusim {}: {}</title>\n<style>{}</style>\n", html_escape(report.kind),
                      html_escape(report.title), kStyle);
  for (const std::string* script : {&scripts.vega, &scripts.vega_lite, &scripts.vega_embed})
    page += "<script>" + script_safe(*script) + "</script>\n";
  page += fmt::format("</head>\n<body>\n<h1>xpusim {}</h1>\n<p class=\"meta\">{}</p>\n{}",
                      html_escape(report.kind), html_escape(report.title), sections);
  page += "<script type=\"application/json\" id=\"xpusim-specs\">" + script_safe(specs.dump()) +
          "</script>\n<script>" + std::string(kRender) + "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace xpusim

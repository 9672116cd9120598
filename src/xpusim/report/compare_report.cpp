#include "xpusim/report/compare_report.hpp"

#include <fmt/format.h>

#include "xpusim/report/table.hpp"
#include "xpusim/report/training_report.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

template <class T>
Json optional_json(const std::optional<T>& x) {
  return x ? Json(*x) : Json(nullptr);
}

std::string optional_text(const std::optional<double>& x, const char* spec) {
  return x ? fmt::format(fmt::runtime(spec), *x) : "-";
}

std::string_view basis_name(PriceBasis basis) {
  switch (basis) {
    case PriceBasis::kAuto:
      return "auto";
    case PriceBasis::kCloud:
      return "cloud";
    case PriceBasis::kOwned:
      return "owned";
  }
  return "";
}

/// The price basis, its reason, an owned basis's assumptions, given and missing prices.
std::string price_text(const PriceChoice& price, const Economics& e) {
  std::string out = fmt::format("Price basis: {}.", price.why);
  if (price.basis == PriceBasis::kOwned) {
    out += fmt::format(
        " Owned cost per device-hour = purchase x (1 + {:g} server overhead) / ({:g} years x "
        "8766 h) + TDP x PUE {:g} x ${:g}/kWh (data/economics.yaml).",
        e.server_overhead_fraction, e.depreciation_years, e.pue, e.electricity_usd_per_kwh);
  } else {
    out += " On-demand price per device-hour from each chip's catalog file.";
  }
  if (!price.given.empty())
    out += fmt::format(" Prices given on the command line: {}.", fmt::join(price.given, ", "));
  if (!price.unpriced.empty())
    out += fmt::format(" No {} price (no $ columns): {}.", basis_name(price.basis),
                       fmt::join(price.unpriced, ", "));
  return out + "\n";
}

Json price_json(const PriceChoice& price, const Economics& e) {
  Json j = {{"basis", basis_name(price.basis)},
            {"why", price.why},
            {"given", price.given},
            {"unpriced", price.unpriced}};
  if (price.basis == PriceBasis::kOwned) {
    j["assumptions"] = {{"server_overhead_fraction", e.server_overhead_fraction},
                        {"depreciation_years", e.depreciation_years},
                        {"pue", e.pue},
                        {"electricity_usd_per_kwh", e.electricity_usd_per_kwh}};
  }
  return j;
}

std::string_view placement_key(Placement p) {
  switch (p) {
    case Placement::kSystemNode:
      return "system_node";
    case Placement::kScaleUpDomain:
      return "scale_up_domain";
    case Placement::kFewest:
      return "fewest";
    case Placement::kGiven:
      return "given";
  }
  return "";
}

std::string placed_cell(const CompareRow& row) {
  switch (row.placement) {
    case Placement::kSystemNode:
      return "node " + row.placed_by;
    case Placement::kScaleUpDomain:
      return "domain";
    case Placement::kFewest:
      return "fewest";
    case Placement::kGiven:
      return "given";
  }
  return "";
}

std::string limits_text(const CompareOptions& o) {
  std::vector<std::string> parts;
  if (o.max_ttft.value() > 0) parts.push_back(fmt::format("TTFT <= {:g} s", o.max_ttft.value()));
  if (o.max_tpot.value() > 0)
    parts.push_back(fmt::format("TPOT <= {:g} ms", o.max_tpot.value() * 1e3));
  return parts.empty() ? "no latency limit (offline)"
                       : fmt::format("{}", fmt::join(parts, " and "));
}

Table serving_table(const CompareTable& t) {
  Table table({"hw", "devices", "placed", "concurrency", "tokens/s", "tokens/s/device", "TTFT s",
               "TPOT ms", "tokens/s/W", "tokens/s per $/h", "$/M tokens", "GB/device"});
  for (const auto& row : t.rows) {
    if (!row.state) continue;
    const SteadyState& s = *row.state;
    const Normalised& n = row.normalised;
    table.add_row(
        {row.hw->id + (row.price.given ? "*" : ""), std::to_string(row.request.devices),
         placed_cell(row), std::to_string(s.concurrency), fmt::format("{:.0f}", s.tokens_per_s),
         fmt::format("{:.0f}", n.tokens_per_s_per_device), fmt::format("{:.3f}", s.ttft.value()),
         fmt::format("{:.1f}", s.tpot.value() * 1e3),
         fmt::format("{:.3f}", n.tokens_per_s_per_watt),
         optional_text(n.tokens_per_s_per_usd_per_hour, "{:.1f}"),
         optional_text(n.cost_per_million_tokens_usd, "{:.3f}"),
         fmt::format("{:.1f}", row.memory.total().value() / 1e9)});
  }
  return table;
}

}  // namespace

Json compare_json(const ModelSpec& model, const CompareOptions& o, const CompareTable& t) {
  Json rows = Json::array();
  for (const auto& row : t.rows) {
    Json j = {{"hw", row.hw->id},
              {"devices", row.request.devices},
              {"placement", placement_key(row.placement)},
              {"placed_by", row.placed_by},
              {"runnable", row.state.has_value()}};
    if (!row.state) {
      j["reason"] = row.reason;
      rows.push_back(j);
      continue;
    }
    const SteadyState& s = *row.state;
    const Normalised& n = row.normalised;
    j.update({{"concurrency", s.concurrency},
              {"tokens_per_s", s.tokens_per_s},
              {"tokens_per_s_per_device", n.tokens_per_s_per_device},
              {"tokens_per_s_per_watt", n.tokens_per_s_per_watt},
              {"tokens_per_s_per_usd_per_hour", optional_json(n.tokens_per_s_per_usd_per_hour)},
              {"cost_per_million_tokens_usd", optional_json(n.cost_per_million_tokens_usd)},
              {"price_usd_per_device_hour",
               row.price.per_device ? Json(row.price.per_device->value()) : Json(nullptr)},
              {"price_given", row.price.given},
              {"ttft_s", s.ttft.value()},
              {"tpot_s", s.tpot.value()},
              {"prefill_s", s.prefill.value()},
              {"decode_step_s", s.decode_step.value()},
              {"energy_per_token_j", n.energy_per_token.value()},
              {"tdp_w", row.hw->tdp.value()},
              {"memory_per_device_bytes", row.memory.total().value()}});
    rows.push_back(j);
  }
  return {{"model", model.id},
          {"workload",
           {{"input_len", o.input_len},
            {"output_len", o.output_len},
            {"weight_dtype", to_string(o.weight_dtype)},
            {"kv_dtype", to_string(o.kv_dtype)},
            {"max_ttft_s", o.max_ttft.value()},
            {"max_tpot_s", o.max_tpot.value()},
            {"batching", "continuous, steady state"}}},
          {"price", price_json(t.price, t.economics)},
          {"rows", rows}};
}

std::string compare_text(const ModelSpec& model, const CompareOptions& o, const CompareTable& t) {
  const std::string placement =
      o.devices > 0
          ? fmt::format("{} devices of every chip (tensor parallel)", o.devices)
          : "each chip on its natural node (its catalog system's node, else its scale-up domain) "
            "or, where that cannot run the model, on the fewest devices that can (tensor "
            "parallel)";
  std::string out = fmt::format(
      "{} serving, {} input / {} output tokens, weights {}, KV cache {}: {}. Continuous batching "
      "in its steady state at the highest concurrency that fits every sequence at its longest "
      "context and keeps mean {}. tokens/s counts generated tokens of the whole group; per watt "
      "= tokens/s / (devices x TDP); per $/h = tokens/s / (devices x price per device-hour).\n",
      model.id, o.input_len, o.output_len, to_string(o.weight_dtype), to_string(o.kv_dtype),
      placement, limits_text(o));
  out += price_text(t.price, t.economics) + "\n";
  out += serving_table(t).to_text();
  bool header = false;
  for (const auto& row : t.rows) {
    if (!row.state || row.placement != Placement::kFewest) continue;
    if (!header) out += "\nPlaced on the fewest devices that hold the model:\n";
    header = true;
    out += fmt::format("  {}: {} devices; {}\n", row.hw->id, row.request.devices, row.placed_by);
  }
  header = false;
  for (const auto& row : t.rows) {
    if (row.state) continue;
    if (!header) out += "\nCannot run it:\n";
    header = true;
    out += fmt::format("  {}: {}\n", row.hw->id, row.reason);
  }
  if (!t.price.given.empty()) out += "\n* price given on the command line\n";
  return out;
}

std::string compare_csv(const CompareTable& table) {
  return serving_table(table).to_csv();
}

// --- training ----------------------------------------------------------------------------------

namespace {

Table training_table(const TrainCompareTable& t) {
  Table table({"hw", "nodes x devices", "system", "plan", "step s", "tokens/s", "tokens/s/device",
               "MFU", "days", "device-hours", "$", "MWh", "tokens/s/W"});
  for (const auto& row : t.rows) {
    if (!row.best) continue;
    const TrainingResult& r = row.best->result;
    table.add_row(
        {row.hw->id + (row.price.given ? "*" : ""),
         fmt::format("{} x {}", row.nodes, row.devices_per_node), row.placed_by,
         plan_text(row.best->plan), fmt::format("{:.3f}", r.step_time.value()),
         fmt::format("{:.0f}", r.tokens_per_s), fmt::format("{:.0f}", row.tokens_per_s_per_device),
         fmt::format("{:.1f}%", 100.0 * r.mfu),
         fmt::format("{:.2f}", row.budget.wall_time.value() / 86400.0),
         fmt::format("{:.0f}", row.budget.device_hours), optional_text(row.cost_usd, "{:.0f}"),
         fmt::format("{:.2f}", row.energy.value() / 3.6e9),
         fmt::format("{:.2f}", row.tokens_per_s_per_watt)});
  }
  return table;
}

}  // namespace

Json train_compare_json(const ModelSpec& model, const TrainCompareOptions& o,
                        const TrainCompareTable& t) {
  Json rows = Json::array();
  for (const auto& row : t.rows) {
    Json j = {{"hw", row.hw->id},        {"devices", o.devices},
              {"nodes", row.nodes},      {"devices_per_node", row.devices_per_node},
              {"system", row.placed_by}, {"runnable", row.best.has_value()}};
    if (!row.best) {
      j["reason"] = row.reason;
      rows.push_back(j);
      continue;
    }
    const TrainingResult& r = row.best->result;
    j.update({{"plan", plan_json(row.best->plan)},
              {"step_time_s", r.step_time.value()},
              {"tokens_per_s", r.tokens_per_s},
              {"tokens_per_s_per_device", row.tokens_per_s_per_device},
              {"tokens_per_s_per_watt", row.tokens_per_s_per_watt},
              {"mfu", r.mfu},
              {"wall_time_s", row.budget.wall_time.value()},
              {"device_hours", row.budget.device_hours},
              {"energy_j", row.energy.value()},
              {"cost_usd", optional_json(row.cost_usd)},
              {"price_usd_per_device_hour",
               row.price.per_device ? Json(row.price.per_device->value()) : Json(nullptr)},
              {"price_given", row.price.given}});
    rows.push_back(j);
  }
  return {{"model", model.id},
          {"job",
           {{"tokens", o.tokens},
            {"devices", o.devices},
            {"global_batch", o.job.global_batch},
            {"seq_len", o.job.seq_len},
            {"precision", to_string(o.job.recipe)}}},
          {"price", price_json(t.price, t.economics)},
          {"rows", rows}};
}

std::string train_compare_text(const ModelSpec& model, const TrainCompareOptions& o,
                               const TrainCompareTable& t) {
  std::string out = fmt::format(
      "{} trained on {:.3g} tokens on {} devices of every chip (its catalog system resized, else "
      "a default system of the chip), global batch {} x {} tokens, {}; each at the fastest plan "
      "of the exhaustive search. Energy: devices at TDP x PUE; tokens/s/W at TDP.\n",
      model.id, o.tokens, o.devices, o.job.global_batch, o.job.seq_len, to_string(o.job.recipe));
  out += price_text(t.price, t.economics) + "\n";
  out += training_table(t).to_text();
  bool header = false;
  for (const auto& row : t.rows) {
    if (row.best) continue;
    if (!header) out += "\nCannot train it:\n";
    header = true;
    out += fmt::format("  {}: {}\n", row.hw->id, row.reason);
  }
  if (!t.price.given.empty()) out += "\n* price given on the command line\n";
  return out;
}

std::string train_compare_csv(const TrainCompareTable& table) {
  return training_table(table).to_csv();
}

}  // namespace xpusim

#include "xpusim/report/report.hpp"

#include <fmt/format.h>

#include "xpusim/report/figure_report.hpp"
#include "xpusim/report/table.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

std::string gb(Bytes b) {
  return fmt::format("{:.1f}", b.value() / 1e9);
}

Json pass_breakdown_json(const PassCost& pass) {
  Json ops = Json::object();
  for (std::size_t i = 0; i < kOpKindCount; ++i) {
    const OpTotals& t = pass.by_op[i];
    if (t.kernels == 0) continue;
    ops[std::string(to_string(static_cast<OpKind>(i)))] = {{"time_s", t.time.value()},
                                                           {"flops", t.flops.value()},
                                                           {"bytes", t.bytes.value()},
                                                           {"kernels", t.kernels}};
  }
  return {{"time_s", pass.time.value()},
          {"compute_time_s", pass.compute_time.value()},
          {"memory_time_s", pass.memory_time.value()},
          {"flops", pass.flops.value()},
          {"bytes", pass.bytes.value()},
          {"operators", ops}};
}

/// The chip's ceilings for a roofline: memory bandwidth and the dense peaks in bf16 and in the
/// weights' data type where the matrix units compute in it.
Json roofline_json(const AcceleratorSpec& hw, DType weight_dtype) {
  Json peaks = Json::object();
  for (DType d : {DType::kBf16, weight_dtype}) {
    if (auto peak = hw.peak(d)) peaks[std::string(to_string(d))] = peak->value();
  }
  return {{"memory_bandwidth_bytes_per_s", hw.memory_bandwidth.value()},
          {"peak_dense_flops_per_s", peaks}};
}

std::string cost_text(const std::optional<double>& usd) {
  return usd ? fmt::format("{:.3f}", *usd) : "n/a";
}

}  // namespace

Json accelerator_json(const AcceleratorSpec& hw) {
  Json figures = Json::array();
  for (const auto& f : hw.figures) figures.push_back(figure_json(f));
  Json sources = Json::array();
  for (const auto& s : hw.sources)
    sources.push_back({{"id", s.id}, {"title", s.title}, {"url", s.url}});
  Json peaks = Json::object();
  for (DType dtype : kAllDTypes) {
    if (auto p = hw.peak(dtype)) peaks[std::string(to_string(dtype))] = p->value();
  }
  return {{"id", hw.id},
          {"name", hw.name},
          {"vendor", hw.vendor},
          {"launch_year", hw.launch_year},
          {"peak_dense_flops_per_s", peaks},
          {"memory_capacity_bytes", hw.memory_capacity.value()},
          {"memory_bandwidth_bytes_per_s", hw.memory_bandwidth.value()},
          {"scale_up_bandwidth_bytes_per_s", hw.scale_up_bandwidth.value()},
          {"scale_up_domain_devices", hw.scale_up_domain_devices},
          {"tdp_w", hw.tdp.value()},
          {"figures", figures},
          {"sources", sources}};
}

std::string accelerator_text(const AcceleratorSpec& hw) {
  std::string out = fmt::format("{} ({}), {}, {}\n", hw.name, hw.id, hw.vendor, hw.launch_year);
  Table table({"figure", "value", "source"});
  for (const auto& f : hw.figures)
    table.add_row({f.key, fmt::format("{:g}", f.value), provenance_text(hw.sources, f.provenance)});
  out += table.to_text() + "\nSources:\n";
  for (const auto& s : hw.sources) out += fmt::format("  [{}] {} {}\n", s.id, s.title, s.url);
  return out;
}

std::string accelerator_list_text(const std::vector<AcceleratorSpec>& all) {
  Table table({"id", "name", "bf16 TFLOP/s", "memory GB", "HBM TB/s", "TDP W"});
  for (const auto& hw : all) {
    table.add_row({hw.id, hw.name, fmt::format("{:.0f}", hw.peak(DType::kBf16)->value() / 1e12),
                   gb(hw.memory_capacity),
                   fmt::format("{:.2f}", hw.memory_bandwidth.value() / 1e12),
                   fmt::format("{:.0f}", hw.tdp.value())});
  }
  return table.to_text();
}

namespace {

std::string gb_per_s(BytesPerSecond b) {
  return fmt::format("{:g} GB/s", b.value() / 1e9);
}

std::string torus_text(const std::array<int, 3>& dims) {
  return fmt::format("{}x{}x{}", dims[0], dims[1], dims[2]);
}

std::string scale_up_summary(const ScaleUpFabric& f) {
  const std::string shape =
      f.topology == ScaleUpTopology::kTorus ? fmt::format(" {}", torus_text(f.torus_dims)) : "";
  return fmt::format("{}{}, {} devices, {}", to_string(f.topology), shape, f.domain_devices,
                     gb_per_s(f.bandwidth));
}

std::string scale_out_summary(const ScaleOutNetwork& n) {
  return fmt::format("{}, {}", to_string(n.topology), gb_per_s(n.bandwidth));
}

}  // namespace

Json system_json(const SystemSpec& s) {
  Json figures = Json::array();
  for (const auto& f : s.figures) figures.push_back(figure_json(f));
  for (const auto& f : s.inherited) {
    Json entry = figure_json(f);
    entry["from_accelerator"] = s.accelerator.id;
    figures.push_back(entry);
  }
  Json sources = Json::array();
  for (const auto& src : s.sources)
    sources.push_back({{"id", src.id}, {"title", src.title}, {"url", src.url}});
  const ScaleUpFabric& up = s.scale_up;
  Json scale_up = {{"topology", std::string(to_string(up.topology))},
                   {"bandwidth_bytes_per_s", up.bandwidth.value()},
                   {"latency_s", up.latency.value()},
                   {"domain_devices", up.domain_devices},
                   {"efficiency", up.efficiency}};
  if (up.topology == ScaleUpTopology::kTorus) scale_up["torus_dims"] = up.torus_dims;
  const ScaleOutNetwork& out = s.scale_out;
  Json scale_out = {{"topology", std::string(to_string(out.topology))},
                    {"bandwidth_bytes_per_s", out.bandwidth.value()},
                    {"latency_s", out.latency.value()},
                    {"oversubscription", out.oversubscription},
                    {"efficiency", out.efficiency}};
  if (out.topology == ScaleOutTopology::kTorus) scale_out["torus_dims"] = out.torus_dims;
  return {{"id", s.id},
          {"name", s.name},
          {"accelerator", s.accelerator.id},
          {"devices_per_node", s.devices_per_node},
          {"nodes", s.nodes},
          {"devices", s.devices()},
          {"scale_up", scale_up},
          {"scale_out", scale_out},
          {"figures", figures},
          {"sources", sources}};
}

std::string system_text(const SystemSpec& s) {
  const ScaleUpFabric& up = s.scale_up;
  const ScaleOutNetwork& out = s.scale_out;
  std::string text = fmt::format("{} ({})\n", s.name, s.id);
  text += fmt::format("accelerator: {} ({})\n", s.accelerator.name, s.accelerator.id);
  text += fmt::format("devices:     {} = {} nodes x {} per node\n", s.devices(), s.nodes,
                      s.devices_per_node);
  text += fmt::format(
      "scale-up:    {}, {} devices per domain, {} per device per direction, latency {:g} us, "
      "efficiency {:g}\n",
      up.topology == ScaleUpTopology::kTorus ? fmt::format("torus {}", torus_text(up.torus_dims))
                                             : std::string(to_string(up.topology)),
      up.domain_devices, gb_per_s(up.bandwidth), up.latency.value() * 1e6, up.efficiency);
  text += fmt::format(
      "scale-out:   {}, {} per device per direction, latency {:g} us, oversubscription {:g}, "
      "efficiency {:g}\n\n",
      out.topology == ScaleOutTopology::kTorus ? fmt::format("torus {}", torus_text(out.torus_dims))
                                               : std::string(to_string(out.topology)),
      gb_per_s(out.bandwidth), out.latency.value() * 1e6, out.oversubscription, out.efficiency);
  Table table({"figure", "value", "source"});
  for (const auto& f : s.figures)
    table.add_row({f.key, fmt::format("{:g}", f.value), provenance_text(s.sources, f.provenance)});
  for (const auto& f : s.inherited) {
    table.add_row({f.key, fmt::format("{:g}", f.value),
                   fmt::format("from accelerator {}: {}", s.accelerator.id,
                               provenance_text(s.accelerator.sources, f.provenance))});
  }
  text += table.to_text() + "\nSources:\n";
  for (const auto& src : s.sources)
    text += fmt::format("  [{}] {} {}\n", src.id, src.title, src.url);
  return text;
}

std::string system_list_text(const std::vector<SystemSpec>& all) {
  Table table({"id", "accelerator", "devices", "nodes x per node", "scale-up", "scale-out"});
  for (const auto& s : all) {
    table.add_row({s.id, s.accelerator.id, fmt::format("{}", s.devices()),
                   fmt::format("{} x {}", s.nodes, s.devices_per_node),
                   scale_up_summary(s.scale_up), scale_out_summary(s.scale_out)});
  }
  return table.to_text();
}

Json model_json(const ModelSpec& m) {
  const ParameterCount p = count_parameters(m);
  Json j = {{"id", m.id},
            {"model_type", m.model_type},
            {"parameters", p.total},
            {"active_parameters_per_token", p.active_per_token},
            {"hidden_size", m.hidden},
            {"layers", m.layers},
            {"attention_heads", m.heads},
            {"kv_heads", m.kv_heads},
            {"head_dim", m.head_dim},
            {"ffn_dim", m.ffn_dim},
            {"vocab_size", m.vocab},
            {"max_positions", m.max_positions},
            {"kv_cache_elements_per_token", kv_cache_elements_per_token(m)},
            {"forward_flops_per_token_at_2048", forward_flops_per_token(m, 2048.0)},
            {"training_flops_per_token_seq_2048", training_flops_per_token(m, 2048)}};
  if (m.moe)
    j["experts"] = {{"routed", m.moe->num_experts},
                    {"per_token", m.moe->experts_per_token},
                    {"shared", m.moe->shared_experts}};
  if (m.sliding_window > 0)
    j["sliding_window"] = {{"tokens", m.sliding_window}, {"layers", m.sliding_layers()}};
  return j;
}

std::string model_text(const ModelSpec& m) {
  std::string out;
  const Json json = model_json(m);  // named: a temporary would die before the loop body
  for (const auto& [key, value] : json.items())
    out += fmt::format("{:<36} {}\n", key, value.dump());
  return out;
}

std::string model_list_text(const std::vector<ModelSpec>& all) {
  Table table({"id", "type", "parameters", "active", "layers", "hidden", "heads/kv"});
  for (const auto& m : all) {
    const ParameterCount p = count_parameters(m);
    table.add_row({m.id, m.model_type, fmt::format("{:.2f}B", static_cast<double>(p.total) / 1e9),
                   fmt::format("{:.2f}B", static_cast<double>(p.active_per_token) / 1e9),
                   std::to_string(m.layers), std::to_string(m.hidden),
                   fmt::format("{}/{}", m.heads, m.kv_heads)});
  }
  return table.to_text();
}

Json inference_json(const ModelSpec& model, const AcceleratorSpec& hw, const InferenceRequest& r,
                    const InferenceResult& x) {
  Json j = {{"model", model.id},
            {"hw", hw.id},
            {"devices", r.devices},
            {"batch", r.batch},
            {"input_len", r.input_len},
            {"output_len", r.output_len},
            {"weight_dtype", std::string(to_string(r.weight_dtype))},
            {"kv_dtype", std::string(to_string(r.kv_dtype))},
            {"ttft_s", x.ttft.value()},
            {"tpot_s", x.tpot.value()},
            {"tpot_first_s", x.tpot_first.value()},
            {"tpot_last_s", x.tpot_last.value()},
            {"e2e_latency_s", x.e2e_latency.value()},
            {"throughput_tokens_per_s", x.throughput_tokens_per_s},
            {"memory_per_device_bytes", x.memory.total().value()},
            {"memory_capacity_per_device_bytes", x.memory_capacity.value()},
            {"memory_breakdown_bytes",
             {{"weights", x.memory.weights.value()},
              {"kv_cache", x.memory.kv_cache.value()},
              {"activations", x.memory.activations.value()},
              {"workspace", x.memory.workspace.value()}}},
            {"fits", x.fits},
            {"max_batch", x.max_batch},
            {"energy_per_token_j", x.energy_per_token.value()},
            {"cost_per_million_tokens_usd",
             x.cost_per_million_tokens_usd ? Json(*x.cost_per_million_tokens_usd) : Json(nullptr)},
            {"cost_basis", x.cost_basis.empty() ? Json(nullptr) : Json(x.cost_basis)},
            {"decode_memory_bound", x.decode_memory_bound},
            {"prefill", pass_breakdown_json(x.prefill)},
            {"decode_last_step", pass_breakdown_json(x.decode_last)},
            {"roofline", roofline_json(hw, r.weight_dtype)}};
  return j;
}

std::string inference_text(const ModelSpec& model, const AcceleratorSpec& hw,
                           const InferenceRequest& r, const InferenceResult& x) {
  std::string out =
      fmt::format("{} on {} x {} (tensor parallel), batch {}, {} in / {} out, weights {}, KV {}\n",
                  model.id, r.devices, hw.id, r.batch, r.input_len, r.output_len,
                  to_string(r.weight_dtype), to_string(r.kv_dtype));
  out += fmt::format("  time to first token   {:10.4f} s\n", x.ttft.value());
  out += fmt::format("  time per output token {:10.4f} s  (first {:.4f}, last {:.4f}; {})\n",
                     x.tpot.value(), x.tpot_first.value(), x.tpot_last.value(),
                     x.decode_memory_bound ? "memory-bound" : "compute-bound");
  out += fmt::format("  end-to-end latency    {:10.4f} s\n", x.e2e_latency.value());
  out += fmt::format("  throughput            {:10.1f} generated tokens/s (all devices)\n",
                     x.throughput_tokens_per_s);
  out += fmt::format(
      "  memory per device     {:10.1f} GB of {:.1f} GB: weights {}, KV cache {}, activations {}, "
      "workspace {} -> {}\n",
      x.memory.total().value() / 1e9, x.memory_capacity.value() / 1e9, gb(x.memory.weights),
      gb(x.memory.kv_cache), gb(x.memory.activations), gb(x.memory.workspace),
      x.fits ? "fits" : "DOES NOT FIT");
  out += fmt::format("  largest batch that fits {}\n", x.max_batch);
  out += fmt::format("  energy per token      {:10.3f} J (devices at TDP)\n",
                     x.energy_per_token.value());
  out += fmt::format(
      "  cost per 1M tokens    {:>10} USD{}\n", cost_text(x.cost_per_million_tokens_usd),
      x.cost_basis.empty() ? " (no price in the catalog)" : " (" + x.cost_basis + " price)");
  Table ops({"operator (prefill)", "time ms", "share", "kernels"});
  for (std::size_t i = 0; i < kOpKindCount; ++i) {
    const OpTotals& t = x.prefill.by_op[i];
    if (t.kernels == 0) continue;
    ops.add_row({std::string(to_string(static_cast<OpKind>(i))),
                 fmt::format("{:.3f}", t.time.value() * 1e3),
                 fmt::format("{:.1f}%", 100.0 * (t.time / x.prefill.time)),
                 std::to_string(t.kernels)});
  }
  out += "\n";
  return out + ops.to_text();
}

std::string validation_text(const ValidationReport& report) {
  Table table({"record", "metric", "measured", "predicted", "error", "chosen where unstated"});
  for (const auto& o : report.outcomes) {
    table.add_row({o.id, o.metric, fmt::format("{:.4g}", o.measured),
                   fmt::format("{:.4g}", o.predicted),
                   fmt::format("{:+.1f}%", 100.0 * o.relative_error()), o.detail});
  }
  std::string out = report.title.empty() ? "" : report.title + "\n\n";
  out += table.to_text();
  out +=
      fmt::format("\nmedian |error| {:.1f}% (tolerance {:.0f}%), per-row tolerance {:.0f}%: {}\n",
                  100.0 * report.median_abs_error(), 100.0 * report.median_tolerance,
                  100.0 * report.per_row_tolerance, report.passed() ? "PASS" : "FAIL");
  if (!report.not_covered.empty()) {
    out += fmt::format("not covered here (need the serving simulator): {}\n",
                       fmt::join(report.not_covered, ", "));
  }
  return out;
}

nlohmann::json validation_json(const ValidationReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& o : report.outcomes) {
    rows.push_back({{"id", o.id},
                    {"metric", o.metric},
                    {"measured", o.measured},
                    {"predicted", o.predicted},
                    {"relative_error", o.relative_error()},
                    {"chosen", o.detail}});
  }
  return {{"title", report.title},
          {"records", rows},
          {"median_abs_error", report.median_abs_error()},
          {"median_tolerance", report.median_tolerance},
          {"per_row_tolerance", report.per_row_tolerance},
          {"not_covered", report.not_covered},
          {"passed", report.passed()}};
}

namespace {

/// `within`: the |error| whose share the table shows (0.20 or 0.25).
Table summary_table(const std::vector<ErrorSummary>& rows, double within) {
  Table table({"axis", "family", "records", "median |error|",
               fmt::format("within {:.0f}%", 100.0 * within), "worst", "error"});
  for (const auto& s : rows) {
    const double share = within == 0.25 ? s.share_within_25pct : s.share_within_20pct;
    table.add_row({s.axis, s.family, fmt::format("{}", s.count),
                   s.count ? fmt::format("{:.1f}%", 100.0 * s.median_abs_error) : "-",
                   s.count ? fmt::format("{:.0f}%", 100.0 * share) : "-", s.worst_id,
                   s.count ? fmt::format("{:+.1f}%", 100.0 * s.worst_error) : "-"});
  }
  return table;
}

std::string_view metric_label(const std::string& metric) {
  if (metric == "tokens_per_s_per_device") return "tok/s/dev";
  if (metric == "model_tflops_per_device") return "TFLOP/s/dev";
  if (metric == "output_tokens_per_s_per_device") return "out tok/s/dev";
  if (metric == "output_tokens_per_s") return "out tok/s";
  if (metric == "tokens_per_s") return "tok/s";
  return metric;
}

nlohmann::json summary_json(const std::vector<ErrorSummary>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : rows) {
    out.push_back({{"axis", s.axis},
                   {"family", s.family},
                   {"records", s.count},
                   {"median_abs_error", s.median_abs_error},
                   {"share_within_20pct", s.share_within_20pct},
                   {"share_within_25pct", s.share_within_25pct},
                   {"worst_id", s.worst_id},
                   {"worst_error", s.worst_error}});
  }
  return out;
}

}  // namespace

std::string dev_validation_text(const DevValidationReport& report) {
  Table table({"record", "metric", "measured", "predicted", "error", "tol", "status"});
  for (const auto& o : report.outcomes) {
    const std::string predicted = o.predicted ? fmt::format("{:.4g}", *o.predicted) : "-";
    std::string error = o.predicted ? fmt::format("{:+.1f}%", 100.0 * o.relative_error()) : "-";
    std::string status;
    if (!o.missing.empty()) {
      if (o.predicted) error = "(" + error + ")";
      status = fmt::format("needs: {}", fmt::join(o.missing, ", "));
    } else {
      status = std::abs(o.relative_error()) <= o.tolerance ? "ok" : "outside tolerance";
    }
    if (!o.detail.empty()) status += "; " + o.detail;
    table.add_row({o.id, std::string(metric_label(o.metric)), fmt::format("{:.4g}", o.measured),
                   predicted, error, fmt::format("{:.0f}%", 100.0 * o.tolerance), status});
  }
  std::string out = report.title.empty() ? "" : report.title + "\n\n";
  out += table.to_text();
  out +=
      "\n(error in parentheses: provisional, today's closest approximation of a missing "
      "feature; not counted)\n\nRecords that run:\n";
  out += summary_table(report.summary, report.target_within).to_text();
  out += "\nEvery record with a prediction, provisional ones included:\n";
  out += summary_table(report.provisional_summary, report.target_within).to_text();
  Table blockers({"missing feature", "records"});
  for (const auto& [name, count] : report.blockers)
    blockers.add_row({name, fmt::format("{}", count)});
  out += "\nMissing features (src/xpusim/validate/features.hpp):\n" + blockers.to_text();
  out += fmt::format(
      "\ntarget (median |error| <= {:.0f}%, >= {:.0f}% of records within {:.0f}%): {}\n",
      100.0 * report.target_median_abs_error, 100.0 * report.target_share_within,
      100.0 * report.target_within, report.target_met() ? "met" : "not met");
  return out;
}

nlohmann::json dev_validation_json(const DevValidationReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& o : report.outcomes) {
    rows.push_back(
        {{"id", o.id},
         {"metric", o.metric},
         {"measured", o.measured},
         {"predicted", o.predicted ? nlohmann::json(*o.predicted) : nlohmann::json()},
         {"relative_error", o.predicted ? nlohmann::json(o.relative_error()) : nlohmann::json()},
         {"tolerance", o.tolerance},
         {"tolerance_reason", o.tolerance_reason},
         {"runs", o.runs()},
         {"needs_missing", o.missing},
         {"detail", o.detail},
         {"accelerator", o.accelerator},
         {"precision", o.precision},
         {"architecture", o.architecture},
         {"framework", o.framework}});
  }
  nlohmann::json blockers = nlohmann::json::array();
  for (const auto& [name, count] : report.blockers)
    blockers.push_back({{"feature", name}, {"records", count}});
  return {{"title", report.title},
          {"records", rows},
          {"summary", summary_json(report.summary)},
          {"provisional_summary", summary_json(report.provisional_summary)},
          {"missing_features", blockers},
          {"target_median_abs_error", report.target_median_abs_error},
          {"target_within", report.target_within},
          {"target_share_within", report.target_share_within},
          {"target_met", report.target_met()}};
}

}  // namespace xpusim

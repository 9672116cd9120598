#include "xpusim/report/sensitivity_report.hpp"

#include <fmt/format.h>

#include "xpusim/report/table.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

Json optional_json(const std::optional<double>& x) {
  return x ? Json(*x) : Json(nullptr);
}

std::string percent(double x) {
  return fmt::format("{:.2f}%", 100.0 * x);
}

}  // namespace

Json sensitivity_json(const std::string& title, const Sensitivity& s) {
  Json rows = Json::array();
  for (const auto& r : s.rows) {
    Json j = {{"resource", r.resource.name()}, {"modelled", r.modelled}, {"note", r.note}};
    if (r.modelled) {
      j["feasible"] = r.changed.feasible;
      if (r.changed.feasible) {
        j.update({{"time_s", r.changed.time.value()},
                  {"time_change", r.time_change},
                  {"time_elasticity", r.time_elasticity},
                  {"cost_usd", optional_json(r.changed.cost_usd)},
                  {"cost_change", optional_json(r.cost_change)}});
      } else {
        j["reason"] = r.changed.reason;
      }
    }
    rows.push_back(j);
  }
  return {{"workload", title},
          {"kind", to_string(s.kind)},
          {"step", s.step},
          {"time_metric", s.time_metric},
          {"cost_metric", s.cost_metric},
          {"base", {{"time_s", s.base.time.value()}, {"cost_usd", optional_json(s.base.cost_usd)}}},
          {"rows", rows}};
}

std::string sensitivity_text(const std::string& title, const Sensitivity& s) {
  std::string out =
      fmt::format("{}\nEach resource +{:g}% alone. time: {} = {:.6g} s; cost: {} = {}.\n\n", title,
                  100.0 * s.step, s.time_metric, s.base.time.value(), s.cost_metric,
                  s.base.cost_usd ? fmt::format("${:.6g}", *s.base.cost_usd) : "n/a (no price)");
  Table table({"resource", "time", "cost", "elasticity", "note"});
  for (const auto& r : s.rows) {
    if (!r.modelled) {
      table.add_row({r.resource.name(), "not modelled", "-", "-", r.note});
    } else if (!r.changed.feasible) {
      table.add_row({r.resource.name(), "infeasible", "-", "-", r.changed.reason});
    } else {
      table.add_row({r.resource.name(), percent(r.time_change),
                     r.cost_change ? percent(*r.cost_change) : "-",
                     fmt::format("{:.3f}", r.time_elasticity), r.note});
    }
  }
  out += table.to_text();
  out +=
      "\nelasticity = time change / resource change: -1 when time is inversely proportional "
      "to the resource, 0 when it does not bind. Cost assumes the same price per device-hour.\n";
  return out;
}

}  // namespace xpusim

#include "xpusim/report/calibration_report.hpp"

#include <fmt/format.h>

namespace xpusim {

namespace {

/// Double quotes cannot appear inside the YAML's double-quoted notes.
std::string quoted(std::string text) {
  for (char& c : text) {
    if (c == '"') c = '\'';
  }
  return "\"" + text + "\"";
}

std::string figure_line(const std::string& indent, const CalibratedFigure& f,
                        const std::string& source) {
  return fmt::format("{}{}: {{value: {:.4g}, source: {}, note: {}}}\n", indent, f.key, f.value,
                     source, quoted(f.note));
}

}  // namespace

std::string calibration_yaml(const std::string& hw_id, const Calibration& cal,
                             const std::vector<EndToEndCheck>& checks) {
  std::string out =
      fmt::format("# xpusim calibrate: efficiency figures for data/hardware/{}.yaml from {}\n",
                  hw_id, cal.source_url);
  for (const auto& w : cal.warnings) out += fmt::format("# WARNING: {}\n", w);
  out += "# add to the file's sources:\n";
  out += fmt::format("sources:\n  - id: {}\n    title: {}\n    url: {}\n", cal.source_id,
                     quoted(cal.source_title), cal.source_url);
  out += "efficiency:\n";
  if (!cal.gemm_fraction_of_peak.empty()) {
    out += "  gemm_fraction_of_peak:\n";
    for (const auto& f : cal.gemm_fraction_of_peak) out += figure_line("    ", f, cal.source_id);
  }
  if (!cal.attention_fraction_of_peak.empty()) {
    out += "  attention_fraction_of_peak:\n";
    for (const auto& f : cal.attention_fraction_of_peak)
      out += figure_line("    ", f, cal.source_id);
  }
  for (const auto* f : {&cal.memory_bandwidth_fraction, &cal.kernel_overhead_s,
                        &cal.matmul_fixed_time_s, &cal.compute_memory_overlap_fraction}) {
    if (f->has_value()) out += figure_line("  ", **f, cal.source_id);
  }
  for (const auto& n : cal.not_derived) out += fmt::format("  # not derived: {}\n", n);
  if (!checks.empty()) {
    out += "# end-to-end check of the probe's own runs, predicted with the figures above:\n";
    for (const auto& c : checks) {
      out += fmt::format("#   {}: measured {:.4g}, predicted {:.4g} ({:+.1f} %) - {}\n", c.metric,
                         c.measured_s, c.predicted_s, 100.0 * c.relative_error(), c.detail);
    }
  }
  return out;
}

}  // namespace xpusim

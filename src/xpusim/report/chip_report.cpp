#include "xpusim/report/chip_report.hpp"

#include <fmt/format.h>

#include "xpusim/report/figure_report.hpp"
#include "xpusim/report/table.hpp"

namespace xpusim {

namespace {

nlohmann::json peaks_json(const ChipPeaks& peaks) {
  nlohmann::json dense = nlohmann::json::object();
  for (DType dtype : kAllDTypes) {
    if (auto peak = peaks.peak(dtype)) dense[std::string(to_string(dtype))] = peak->value();
  }
  nlohmann::json j = {{"peak_dense_flops_per_s", dense},
                      {"vector_flops_per_s", peaks.vector_flops_per_s.value()},
                      {"memory_capacity_bytes", peaks.memory_capacity.value()},
                      {"memory_bandwidth_bytes_per_s", peaks.memory_bandwidth.value()},
                      {"onchip_sram_bytes", peaks.onchip_sram.value()},
                      {"scale_up_bandwidth_bytes_per_s", peaks.scale_up_bandwidth.value()}};
  if (peaks.scale_out_bandwidth)
    j["scale_out_bandwidth_bytes_per_s"] = peaks.scale_out_bandwidth->value();
  return j;
}

nlohmann::json cost_json(const UnitCost& c) {
  return {{"die_area_mm2", c.die_area_mm2},
          {"reticle_limit_mm2", c.reticle_limit_mm2},
          {"within_reticle", c.within_reticle},
          {"dies_per_wafer", c.dies_per_wafer},
          {"yield_model", std::string(to_string(c.yield_model))},
          {"defect_density_per_cm2", c.defect_density_per_cm2},
          {"yield", c.yield},
          {"wafer_price_usd", c.wafer_price.value()},
          {"good_die_usd", c.good_die.value()},
          {"logic_usd", c.logic.value()},
          {"memory_usd", c.memory.value()},
          {"package_usd", c.package.value()},
          {"test_usd", c.test.value()},
          {"unit_cost_usd", c.total().value()}};
}

template <class Entry>
void add_inputs(nlohmann::json& list, const std::string& file, const Entry& entry) {
  for (const Figure& f : entry.figures) {
    nlohmann::json j = figure_json(f);
    j["file"] = file;
    list.push_back(j);
  }
}

template <class Entry>
void add_input_rows(Table& table, const std::string& file, const Entry& entry) {
  for (const Figure& f : entry.figures)
    table.add_row({file, f.key, fmt::format("{:.6g}", f.value),
                   provenance_text(entry.sources, f.provenance)});
}

}  // namespace

nlohmann::json chip_derivation_json(const ChipSpec& chip, const ChipInputs& inputs,
                                    const ChipDerivation& derivation) {
  nlohmann::json inputs_json = nlohmann::json::array();
  add_inputs(inputs_json, chip.file.string(), chip);
  add_inputs(inputs_json, "process/nodes/" + inputs.node.id, inputs.node);
  add_inputs(inputs_json, "process/memory/" + inputs.memory.id, inputs.memory);
  add_inputs(inputs_json, "process/packaging/" + inputs.packaging.id, inputs.packaging);
  return {{"chip", chip.id},
          {"name", chip.name},
          {"sibling", chip.sibling},
          {"node", inputs.node.id},
          {"memory_generation", inputs.memory.id},
          {"packaging", inputs.packaging.id},
          {"peaks", peaks_json(derivation.peaks)},
          {"unit_cost", cost_json(derivation.cost)},
          {"inputs", inputs_json}};
}

std::string chip_derivation_text(const ChipSpec& chip, const ChipInputs& inputs,
                                 const ChipDerivation& derivation) {
  const ChipPeaks& p = derivation.peaks;
  const UnitCost& c = derivation.cost;
  std::string out =
      fmt::format("{} ({}), calibration from {}\n\n", chip.name, chip.id, chip.sibling);
  Table peaks({"figure", "derived"});
  for (DType dtype : kAllDTypes) {
    if (auto peak = p.peak(dtype))
      peaks.add_row({fmt::format("{} dense TFLOP/s", to_string(dtype)),
                     fmt::format("{:.1f}", peak->value() / 1e12)});
  }
  peaks.add_row({"vector TFLOP/s", fmt::format("{:.1f}", p.vector_flops_per_s.value() / 1e12)});
  peaks.add_row({"memory GB", fmt::format("{:.1f}", p.memory_capacity.value() / 1e9)});
  peaks.add_row({"memory TB/s", fmt::format("{:.3f}", p.memory_bandwidth.value() / 1e12)});
  peaks.add_row({"on-chip SRAM MB", fmt::format("{:.1f}", p.onchip_sram.value() / 1e6)});
  peaks.add_row(
      {"scale-up GB/s per direction", fmt::format("{:.0f}", p.scale_up_bandwidth.value() / 1e9)});
  if (p.scale_out_bandwidth)
    peaks.add_row({"scale-out GB/s per direction",
                   fmt::format("{:.0f}", p.scale_out_bandwidth->value() / 1e9)});
  out += peaks.to_text() + "\n";
  Table cost({"unit cost", "value"});
  cost.add_row(
      {"die area mm2", fmt::format("{:.0f} ({} the {:.0f} mm2 reticle)", c.die_area_mm2,
                                   c.within_reticle ? "within" : "EXCEEDS", c.reticle_limit_mm2)});
  cost.add_row({"dies per wafer", fmt::format("{:.0f}", c.dies_per_wafer)});
  cost.add_row({"yield", fmt::format("{:.3f} ({}, {} defects/cm2)", c.yield,
                                     to_string(c.yield_model), c.defect_density_per_cm2)});
  cost.add_row({"good die $",
                fmt::format("{:.0f} (wafer ${:.0f})", c.good_die.value(), c.wafer_price.value())});
  cost.add_row(
      {fmt::format("logic $ ({} die)", chip.logic_dies), fmt::format("{:.0f}", c.logic.value())});
  cost.add_row(
      {fmt::format("memory $ ({})", inputs.memory.id), fmt::format("{:.0f}", c.memory.value())});
  cost.add_row({fmt::format("package $ ({})", inputs.packaging.id),
                fmt::format("{:.0f}", c.package.value())});
  cost.add_row({"test $", fmt::format("{:.0f}", c.test.value())});
  cost.add_row({"unit cost $", fmt::format("{:.0f}", c.total().value())});
  out += cost.to_text() + "\nInputs:\n";
  Table in({"file", "figure", "value", "source"});
  add_input_rows(in, chip.file.string(), chip);
  add_input_rows(in, "process/nodes/" + inputs.node.id, inputs.node);
  add_input_rows(in, "process/memory/" + inputs.memory.id, inputs.memory);
  add_input_rows(in, "process/packaging/" + inputs.packaging.id, inputs.packaging);
  return out + in.to_text();
}

}  // namespace xpusim

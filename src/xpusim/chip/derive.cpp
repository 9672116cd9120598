#include "xpusim/chip/derive.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <numbers>

#include "xpusim/core/error.hpp"
#include "xpusim/hw/catalog.hpp"

namespace xpusim {

namespace {

constexpr double kBytesPerGb = 1e9;

double macs_per_cycle(const ChipSpec& chip) {
  return static_cast<double>(chip.shape_m) * chip.shape_n * chip.shape_k;
}

/// A figure node `{value, estimate|source, note}` in flow style.
YAML::Node figure(double value, const std::string& estimate) {
  YAML::Node node;
  node["value"] = fmt::format("{}", value);
  node["estimate"] = estimate;
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}

YAML::Node copied_figure(const Figure& f, const std::string& sibling) {
  YAML::Node node;
  node["value"] = fmt::format("{}", f.value);
  if (!f.provenance.source_id.empty()) {
    node["source"] = "sibling_" + f.provenance.source_id;
  } else {
    node["estimate"] =
        fmt::format("{} (as estimated for the sibling {})", f.provenance.estimate, sibling);
  }
  const std::string note = f.provenance.note.empty() ? "" : f.provenance.note + "; ";
  node["note"] = note + "calibration of the sibling " + sibling;
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}

/// The sibling's `efficiency.*` figures, nested again by key path; curve points keep their
/// message sizes.
YAML::Node sibling_efficiency(const AcceleratorSpec& sibling) {
  YAML::Node efficiency;
  const BusBandwidthCurve& curve = sibling.efficiency.scale_up_bus_bandwidth_curve;
  const std::string prefix = "efficiency.";
  const std::string points_key = "scale_up_bus_bandwidth_curve.points";
  for (const Figure& f : sibling.figures) {
    if (f.key.rfind(prefix, 0) != 0) continue;
    const std::string rest = f.key.substr(prefix.size());
    if (rest.rfind(points_key, 0) == 0) {
      const int i = std::stoi(rest.substr(points_key.size() + 1));  // "points[i]"
      YAML::Node point = copied_figure(f, sibling.id);
      point["message_bytes"] = fmt::format("{}", curve.message_bytes[static_cast<std::size_t>(i)]);
      efficiency["scale_up_bus_bandwidth_curve"]["points"].push_back(point);
      continue;
    }
    const auto dot = rest.find('.');
    if (dot == std::string::npos)
      efficiency[rest] = copied_figure(f, sibling.id);
    else
      efficiency[rest.substr(0, dot)][rest.substr(dot + 1)] = copied_figure(f, sibling.id);
  }
  return efficiency;
}

YAML::Node sources_node(const ChipSpec& chip, const AcceleratorSpec& sibling) {
  YAML::Node list;
  auto add = [&](const Source& s, const std::string& prefix) {
    YAML::Node node;
    node["id"] = prefix + s.id;
    node["title"] = s.title;
    node["url"] = s.url;
    list.push_back(node);
  };
  for (const auto& s : chip.sources) add(s, "");
  for (const auto& s : sibling.sources) add(s, "sibling_");
  return list;
}

YAML::Node compute_node(const ChipSpec& chip, const ChipPeaks& peaks) {
  YAML::Node compute;
  for (DType dtype : kAllDTypes) {
    const auto peak = peaks.peak(dtype);
    if (!peak) continue;
    const auto rate = chip.rate_per_dtype[index_of(dtype)];
    const std::string basis =
        rate ? fmt::format("derived: {} matrix units x {}x{}x{} MACs x rate {} x 2 FLOP x {} Hz",
                           chip.matrix_units, chip.shape_m, chip.shape_n, chip.shape_k, *rate,
                           chip.matrix_clock_hz)
             : fmt::format("derived: the vector units' FP32 rate ({} lanes x {} x {} Hz)",
                           chip.vector_lanes, chip.vector_flops_per_lane_per_cycle,
                           chip.vector_clock_hz);
    compute["peak_dense_flops_per_s"][std::string(to_string(dtype))] =
        figure(peak->value(), basis + " (" + chip.file.string() + ")");
  }
  compute["vector_flops_per_s"] =
      figure(peaks.vector_flops_per_s.value(),
             fmt::format("derived: {} lanes x {} FLOP x {} Hz", chip.vector_lanes,
                         chip.vector_flops_per_lane_per_cycle, chip.vector_clock_hz));
  compute["compute_units"] = figure(chip.compute_units, "from the chip file");
  compute["matrix_units"] = figure(chip.matrix_units, "from the chip file");
  compute["clock_hz"] = figure(chip.matrix_clock_hz, "matrix-unit clock from the chip file");
  compute["matmul_tile_m"] =
      figure(chip.output_tile_m, "matrix_units.output_tile.m of the chip file");
  compute["matmul_tile_n"] =
      figure(chip.output_tile_n, "matrix_units.output_tile.n of the chip file");
  return compute;
}

YAML::Node memory_and_links(const ChipSpec& chip, const ChipPeaks& peaks, YAML::Node root) {
  root["memory"]["capacity_bytes"] =
      figure(peaks.memory_capacity.value(),
             fmt::format("derived: {} {} stacks x {} bytes", chip.memory_stacks,
                         chip.memory_generation, chip.capacity_per_stack.value()));
  root["memory"]["bandwidth_bytes_per_s"] =
      figure(peaks.memory_bandwidth.value(),
             fmt::format("derived: {} stacks x {} pins x {} bit/s / 8", chip.memory_stacks,
                         chip.pins_per_stack, chip.pin_rate_bits_per_s));
  root["memory"]["onchip_sram_bytes"] =
      figure(peaks.onchip_sram.value(), "derived: sum of the chip file's SRAM levels");
  root["scale_up"]["bandwidth_bytes_per_s"] =
      figure(peaks.scale_up_bandwidth.value(),
             fmt::format("derived: {} links x {} bytes/s per direction", chip.scale_up_links,
                         chip.scale_up_link_bandwidth.value()));
  root["scale_up"]["domain_devices"] = figure(chip.scale_up_domain_devices, "from the chip file");
  root["scale_up"]["latency_s"] = figure(chip.scale_up_latency.value(), "from the chip file");
  if (peaks.scale_out_bandwidth) {
    root["scale_out"]["bandwidth_bytes_per_s"] =
        figure(peaks.scale_out_bandwidth->value(),
               fmt::format("derived: {} links x {} bytes/s per direction", *chip.scale_out_links,
                           chip.scale_out_link_bandwidth->value()));
  }
  if (chip.host_link_bandwidth) {
    root["host_link"]["bandwidth_bytes_per_s"] =
        figure(chip.host_link_bandwidth->value(), "from the chip file");
  }
  root["power"]["tdp_w"] = figure(chip.tdp.value(), "from the chip file");
  return root;
}

}  // namespace

std::string_view to_string(YieldModel model) {
  switch (model) {
    case YieldModel::kPoisson:
      return "poisson";
    case YieldModel::kMurphy:
      return "murphy";
  }
  return "?";
}

double dies_per_wafer(double usable_diameter_mm, double die_area_mm2) {
  const double d = usable_diameter_mm;
  const double gross = std::numbers::pi * d * d / (4.0 * die_area_mm2) -
                       std::numbers::pi * d / std::sqrt(2.0 * die_area_mm2);
  return std::max(0.0, std::floor(gross));
}

double die_yield(YieldModel model, double die_area_mm2, double defect_density_per_cm2) {
  const double defects = die_area_mm2 / 100.0 * defect_density_per_cm2;  // per die
  if (defects <= 0.0) return 1.0;
  switch (model) {
    case YieldModel::kPoisson:
      return std::exp(-defects);
    case YieldModel::kMurphy: {
      const double f = (1.0 - std::exp(-defects)) / defects;
      return f * f;
    }
  }
  return 0.0;
}

ChipPeaks derive_peaks(const ChipSpec& chip) {
  ChipPeaks peaks;
  const double per_cycle = chip.matrix_units * macs_per_cycle(chip) * 2.0 * chip.matrix_clock_hz;
  for (DType dtype : kAllDTypes) {
    if (auto rate = chip.rate_per_dtype[index_of(dtype)])
      peaks.dense_flops_per_s[index_of(dtype)] = FlopsPerSecond(per_cycle * *rate);
  }
  peaks.vector_flops_per_s = FlopsPerSecond(
      chip.vector_lanes * chip.vector_flops_per_lane_per_cycle * chip.vector_clock_hz);
  if (chip.vector_is_fp32_peak && !peaks.peak(DType::kFp32))
    peaks.dense_flops_per_s[index_of(DType::kFp32)] = peaks.vector_flops_per_s;
  peaks.memory_capacity = chip.capacity_per_stack * chip.memory_stacks;
  peaks.memory_bandwidth =
      BytesPerSecond(chip.memory_stacks * chip.pins_per_stack * chip.pin_rate_bits_per_s / 8.0);
  for (const SramLevel& level : chip.sram)
    peaks.onchip_sram += level.bytes_per_instance * level.instances;
  peaks.scale_up_bandwidth = chip.scale_up_link_bandwidth * chip.scale_up_links;
  if (chip.scale_out_links)
    peaks.scale_out_bandwidth = *chip.scale_out_link_bandwidth * *chip.scale_out_links;
  return peaks;
}

UnitCost derive_unit_cost(const ChipSpec& chip, const ChipInputs& inputs) {
  const ProcessNode& node = inputs.node;
  UnitCost cost;
  cost.die_area_mm2 = chip.die_area_mm2;
  cost.reticle_limit_mm2 = node.reticle_limit_mm2;
  cost.within_reticle = chip.die_area_mm2 <= node.reticle_limit_mm2;
  cost.dies_per_wafer =
      dies_per_wafer(node.wafer_diameter_mm - 2.0 * node.edge_exclusion_mm, chip.die_area_mm2);
  cost.yield_model = node.yield_model;
  cost.defect_density_per_cm2 = node.defect_density_per_cm2;
  cost.yield = die_yield(node.yield_model, chip.die_area_mm2, node.defect_density_per_cm2);
  cost.wafer_price = node.wafer_price;
  const double good_dies = cost.dies_per_wafer * cost.yield;
  if (good_dies <= 0.0) {
    throw_input_error(chip.file.string(), "process.die_area_mm2",
                      fmt::format("expected a die that fits the wafer, got {} mm2 ({} good dies)",
                                  chip.die_area_mm2, good_dies));
  }
  cost.good_die = cost.wafer_price / good_dies;
  cost.logic = cost.good_die * chip.logic_dies;
  const double gb = chip.capacity_per_stack.value() * chip.memory_stacks / kBytesPerGb;
  cost.memory = Usd(gb * inputs.memory.price_usd_per_gb);
  cost.package = inputs.packaging.package;
  cost.test = inputs.packaging.test;
  return cost;
}

ChipDerivation derive_chip(const ChipSpec& chip, const ChipInputs& inputs) {
  return ChipDerivation{derive_peaks(chip), derive_unit_cost(chip, inputs)};
}

std::string accelerator_entry_yaml(const ChipSpec& chip, const ChipInputs& inputs,
                                   const ChipDerivation& derivation,
                                   const AcceleratorSpec& sibling) {
  if (sibling.id != chip.sibling)
    throw Error(Error::Kind::kInternal, "accelerator_entry_yaml: sibling is not the chip's");
  YAML::Node root;
  root["id"] = chip.id;
  root["name"] = chip.name;
  root["vendor"] = chip.vendor;
  if (!chip.architecture.empty()) root["architecture"] = chip.architecture;
  root["launch_year"] = chip.launch_year;
  root["sources"] = sources_node(chip, sibling);
  root["compute"] = compute_node(chip, derivation.peaks);
  root = memory_and_links(chip, derivation.peaks, root);
  const UnitCost& c = derivation.cost;
  YAML::Node price = figure(
      c.total().value(),
      fmt::format("manufacturing cost from xpusim chip derive, no margin (the in-house capex): "
                  "{} logic die(s) at ${:.0f} (wafer ${:.0f} on {}, {:.0f} dies per wafer, {} "
                  "yield {:.3f} at {} defects/cm2) + {} memory ${:.0f} + {} package ${:.0f} + "
                  "test ${:.0f}",
                  chip.logic_dies, c.good_die.value(), c.wafer_price.value(), inputs.node.id,
                  c.dies_per_wafer, to_string(c.yield_model), c.yield, c.defect_density_per_cm2,
                  inputs.memory.id, c.memory.value(), inputs.packaging.id, c.package.value(),
                  c.test.value()));
  price["kind"] = "street_estimate";
  price["date"] = std::to_string(chip.launch_year);
  root["price"]["purchase_usd"] = price;
  root["efficiency"] = sibling_efficiency(sibling);
  YAML::Emitter out;
  out << root;
  return std::string("# Derived by `xpusim chip derive ") + chip.file.string() +
         "`; edit the chip file, not this one.\n" + out.c_str() + "\n";
}

AcceleratorSpec derived_accelerator(const ChipSpec& chip, const ChipInputs& inputs,
                                    const ChipDerivation& derivation,
                                    const AcceleratorSpec& sibling) {
  AcceleratorSpec spec =
      parse_accelerator_text(accelerator_entry_yaml(chip, inputs, derivation, sibling), chip.file);
  spec.file = chip.file;
  return spec;
}

AcceleratorSpec load_derived_accelerator(const std::filesystem::path& chip_file,
                                         const std::filesystem::path& data_dir) {
  const ChipSpec chip = load_chip_file(chip_file);
  const ChipInputs inputs = load_chip_inputs(chip, data_dir / "process");
  const AcceleratorSpec sibling = load_accelerator(chip.sibling, data_dir / "hardware");
  return derived_accelerator(chip, inputs, derive_chip(chip, inputs), sibling);
}

}  // namespace xpusim

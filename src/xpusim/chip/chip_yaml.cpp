// The one place that reads chip YAML (data/chips/README.md) and the process, memory and
// packaging files it names (data/process/README.md).

#include <fmt/format.h>
#include <algorithm>

#include "xpusim/chip/chip.hpp"
#include "xpusim/core/catalog.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/core/yaml_map.hpp"

namespace xpusim {

namespace {

/// `true` or `false`, nothing else.
bool required_bool(YamlMap& map, const std::string& key) {
  const std::string text = map.required_string(key);
  if (text == "true") return true;
  if (text == "false") return false;
  map.fail(key, fmt::format("expected true or false, got '{}'", text));
}

void read_process(YamlMap& root, FigureReader& figures, ChipSpec& chip) {
  YamlMap process = root.required_map("process");
  chip.node = process.required_string("node");
  chip.packaging = process.required_string("packaging");
  chip.die_area_mm2 = figures.required(process, "die_area_mm2");
  chip.logic_dies = figures.required_count(process, "logic_dies");
  chip.transistors = figures.optional(process, "transistors");
  process.finish({"node", "packaging", "die_area_mm2", "logic_dies", "transistors"});
}

void read_rates(YamlMap& units, FigureReader& figures, ChipSpec& chip) {
  YamlMap rates = units.required_map("rate_per_dtype");
  std::vector<std::string> names;
  for (DType dtype : kAllDTypes) {
    if (dtype == DType::kInt4) continue;  // a storage format, never a compute type here
    const std::string name(to_string(dtype));
    names.push_back(name);
    if (auto rate = figures.optional(rates, name)) chip.rate_per_dtype[index_of(dtype)] = *rate;
  }
  rates.finish(names);
  if (!chip.rate_per_dtype[index_of(DType::kBf16)])
    rates.fail("bf16", "missing (required: every chip needs a bf16 rate)");
}

void read_matrix_units(YamlMap& root, FigureReader& figures, ChipSpec& chip) {
  YamlMap units = root.required_map("matrix_units");
  chip.matrix_units = figures.required_count(units, "count");
  chip.matrix_clock_hz = figures.required(units, "clock_hz");
  YamlMap shape = units.required_map("shape");
  chip.shape_m = figures.required_count(shape, "m");
  chip.shape_n = figures.required_count(shape, "n");
  chip.shape_k = figures.required_count(shape, "k");
  shape.finish({"m", "n", "k"});
  read_rates(units, figures, chip);
  YamlMap tile = units.required_map("output_tile");
  chip.output_tile_m = figures.required_count(tile, "m");
  chip.output_tile_n = figures.required_count(tile, "n");
  tile.finish({"m", "n"});
  units.finish({"count", "clock_hz", "shape", "rate_per_dtype", "output_tile"});
}

void read_vector_units(YamlMap& root, FigureReader& figures, ChipSpec& chip) {
  YamlMap units = root.required_map("vector_units");
  chip.vector_lanes = figures.required_count(units, "lanes");
  chip.vector_flops_per_lane_per_cycle = figures.required(units, "flops_per_lane_per_cycle");
  chip.vector_clock_hz = figures.required(units, "clock_hz");
  chip.vector_is_fp32_peak = required_bool(units, "is_fp32_peak");
  units.finish({"lanes", "flops_per_lane_per_cycle", "clock_hz", "is_fp32_peak"});
}

void read_sram(YamlMap& root, FigureReader& figures, ChipSpec& chip) {
  YAML::Node list = root.required("sram");
  if (!list.IsSequence() || list.size() == 0)
    root.fail("sram", "expected a non-empty list of {level, bytes_per_instance, instances}");
  for (std::size_t i = 0; i < list.size(); ++i) {
    YamlMap entry(list[i], root.file(), fmt::format("sram[{}]", i));
    SramLevel level;
    level.level = entry.required_string("level");
    level.bytes_per_instance = Bytes(figures.required(entry, "bytes_per_instance"));
    level.instances = figures.required_count(entry, "instances");
    entry.finish({"level", "bytes_per_instance", "instances"});
    chip.sram.push_back(level);
  }
}

void read_memory(YamlMap& root, FigureReader& figures, ChipSpec& chip) {
  YamlMap memory = root.required_map("memory");
  chip.memory_generation = memory.required_string("generation");
  chip.memory_stacks = figures.required_count(memory, "stacks");
  chip.capacity_per_stack = Bytes(figures.required(memory, "capacity_per_stack_bytes"));
  chip.pins_per_stack = figures.required_count(memory, "pins_per_stack");
  chip.pin_rate_bits_per_s = figures.required(memory, "pin_rate_bits_per_s");
  memory.finish({"generation", "stacks", "capacity_per_stack_bytes", "pins_per_stack",
                 "pin_rate_bits_per_s"});
}

void read_links(YamlMap& root, FigureReader& figures, ChipSpec& chip) {
  YamlMap up = root.required_map("scale_up");
  chip.scale_up_links = figures.required_count(up, "links");
  chip.scale_up_link_bandwidth = BytesPerSecond(figures.required(up, "link_bandwidth_bytes_per_s"));
  chip.scale_up_domain_devices = figures.required_count(up, "domain_devices");
  chip.scale_up_latency = Seconds(figures.required(up, "latency_s"));
  up.finish({"links", "link_bandwidth_bytes_per_s", "domain_devices", "latency_s"});
  if (auto out = root.optional_map("scale_out")) {
    chip.scale_out_links = figures.required_count(*out, "links");
    chip.scale_out_link_bandwidth =
        BytesPerSecond(figures.required(*out, "link_bandwidth_bytes_per_s"));
    out->finish({"links", "link_bandwidth_bytes_per_s"});
  }
  if (auto host = root.optional_map("host_link")) {
    chip.host_link_bandwidth = BytesPerSecond(figures.required(*host, "bandwidth_bytes_per_s"));
    host->finish({"bandwidth_bytes_per_s"});
  }
  YamlMap power = root.required_map("power");
  chip.tdp = Watts(figures.required(power, "tdp_w"));
  power.finish({"tdp_w"});
}

/// Reads `id`, `name` and `sources`, and checks that the id is the file name.
template <class Spec>
void read_header(YamlMap& root, const std::filesystem::path& file, Spec& spec) {
  spec.id = root.required_string("id");
  if (spec.id != file.stem().string())
    root.fail("id", fmt::format("expected '{}' (the file name), got '{}'", file.stem().string(),
                                spec.id));
  spec.name = root.required_string("name");
  spec.sources = read_sources(root);
}

/// `dir/ID.yaml`, or a not-found error at `key` of the chip file naming the closest ids.
std::filesystem::path catalog_file(const std::filesystem::path& dir, const std::string& id,
                                   const ChipSpec& chip, const std::string& key,
                                   std::string_view what) {
  const auto ids = catalog_ids(dir, ".yaml", what);
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
    throw Error(Error::Kind::kNotFound, fmt::format("{}: {}: unknown {} '{}'{}", chip.file.string(),
                                                    key, what, id, did_you_mean(id, ids)));
  }
  return dir / (id + ".yaml");
}

}  // namespace

ChipSpec load_chip_file(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  ChipSpec chip;
  chip.file = file;
  chip.id = root.required_string("id");
  chip.name = root.required_string("name");
  chip.vendor = root.required_string("vendor");
  chip.architecture = root.optional_string("architecture").value_or("");
  const long long year = root.required_integer("launch_year");
  if (year < 1990 || year > 2100)
    root.fail("launch_year", fmt::format("expected a year from 1990 to 2100, got {}", year));
  chip.launch_year = static_cast<int>(year);
  chip.sibling = root.required_string("sibling");
  chip.sources = read_sources(root);
  FigureReader figures(chip.sources, chip.figures);
  read_process(root, figures, chip);
  chip.compute_units = figures.required_count(root, "compute_units");
  read_matrix_units(root, figures, chip);
  read_vector_units(root, figures, chip);
  read_sram(root, figures, chip);
  read_memory(root, figures, chip);
  read_links(root, figures, chip);
  root.finish({"id", "name", "vendor", "architecture", "launch_year", "sibling", "sources",
               "process", "compute_units", "matrix_units", "vector_units", "sram", "memory",
               "scale_up", "scale_out", "host_link", "power"});
  return chip;
}

ProcessNode load_process_node_file(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  ProcessNode node;
  read_header(root, file, node);
  FigureReader figures(node.sources, node.figures);
  node.wafer_price = Usd(figures.required(root, "wafer_price_usd"));
  node.wafer_diameter_mm = figures.required(root, "wafer_diameter_mm");
  node.edge_exclusion_mm = figures.required_non_negative(root, "edge_exclusion_mm");
  node.defect_density_per_cm2 = figures.required_non_negative(root, "defect_density_per_cm2");
  node.reticle_limit_mm2 = figures.required(root, "reticle_limit_mm2");
  const std::string model = root.required_string("yield_model");
  if (model == "poisson")
    node.yield_model = YieldModel::kPoisson;
  else if (model == "murphy")
    node.yield_model = YieldModel::kMurphy;
  else
    root.fail("yield_model", fmt::format("expected poisson or murphy, got '{}'", model));
  if (2.0 * node.edge_exclusion_mm >= node.wafer_diameter_mm)
    root.fail("edge_exclusion_mm.value", "expected less than half the wafer diameter");
  root.finish({"id", "name", "sources", "wafer_price_usd", "wafer_diameter_mm", "edge_exclusion_mm",
               "defect_density_per_cm2", "reticle_limit_mm2", "yield_model"});
  return node;
}

MemoryGeneration load_memory_generation_file(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  MemoryGeneration memory;
  read_header(root, file, memory);
  FigureReader figures(memory.sources, memory.figures);
  memory.price_usd_per_gb = figures.required(root, "price_usd_per_gb");
  root.finish({"id", "name", "sources", "price_usd_per_gb"});
  return memory;
}

Packaging load_packaging_file(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  Packaging packaging;
  read_header(root, file, packaging);
  FigureReader figures(packaging.sources, packaging.figures);
  packaging.package = Usd(figures.required(root, "package_usd"));
  packaging.test = Usd(figures.required_non_negative(root, "test_usd"));
  root.finish({"id", "name", "sources", "package_usd", "test_usd"});
  return packaging;
}

ChipInputs load_chip_inputs(const ChipSpec& chip, const std::filesystem::path& process_dir) {
  return ChipInputs{
      load_process_node_file(
          catalog_file(process_dir / "nodes", chip.node, chip, "process.node", "process node")),
      load_memory_generation_file(catalog_file(process_dir / "memory", chip.memory_generation, chip,
                                               "memory.generation", "memory generation")),
      load_packaging_file(catalog_file(process_dir / "packaging", chip.packaging, chip,
                                       "process.packaging", "packaging")),
  };
}

}  // namespace xpusim

// The one place that reads system YAML (format: data/systems/README.md).

#include <fmt/format.h>
#include <algorithm>
#include <tuple>

#include "xpusim/core/error.hpp"
#include "xpusim/core/figures.hpp"
#include "xpusim/core/yaml_map.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {

namespace fs = std::filesystem;

namespace {

// The absurd-value limits: a per-device bandwidth above 10 TB/s or a latency above 10 ms is a
// unit mistake, not a fabric.
constexpr double kMaxBandwidthBytesPerS = 1e13;
constexpr double kMaxLatencyS = 1e-2;
// More devices than any cluster has, and few enough that device counts fit an int.
constexpr long long kMaxDevices = 10'000'000;

ScaleUpTopology read_scale_up_topology(YamlMap& map) {
  const std::string name = map.required_string("topology");
  if (name == "switched") return ScaleUpTopology::kSwitched;
  if (name == "torus") return ScaleUpTopology::kTorus;
  if (name == "ring") return ScaleUpTopology::kRing;
  map.fail("topology", fmt::format("unknown topology '{}'{}; expected switched, torus or ring",
                                   name, did_you_mean(name, {"switched", "torus", "ring"})));
}

ScaleOutTopology read_scale_out_topology(YamlMap& map) {
  const std::string name = map.required_string("topology");
  if (name == "fat_tree") return ScaleOutTopology::kFatTree;
  if (name == "rail_optimized") return ScaleOutTopology::kRailOptimized;
  if (name == "torus") return ScaleOutTopology::kTorus;
  map.fail("topology",
           fmt::format("unknown topology '{}'{}; expected fat_tree, rail_optimized or torus", name,
                       did_you_mean(name, {"fat_tree", "rail_optimized", "torus"})));
}

/// `torus_dims`: required (1 to 3 whole numbers >= 1) for a torus, refused otherwise.
std::array<int, 3> read_torus_dims(YamlMap& map, bool torus) {
  std::array<int, 3> dims{1, 1, 1};
  if (!torus) {
    if (map.has("torus_dims")) map.fail("torus_dims", "only for topology torus");
    return dims;
  }
  if (!map.has("torus_dims")) map.fail("torus_dims", "missing (required for topology torus)");
  YAML::Node list = map.required("torus_dims");
  if (!list.IsSequence() || list.size() == 0 || list.size() > 3)
    map.fail("torus_dims", "expected a list of 1 to 3 dimensions, e.g. [16, 16, 16]");
  for (std::size_t i = 0; i < list.size(); ++i) {
    long long dim = 0;
    if (!list[i].IsScalar() || !YAML::convert<long long>::decode(list[i], dim) || dim < 1 ||
        dim > 1'000'000) {
      map.fail(fmt::format("torus_dims[{}]", i),
               fmt::format("expected a whole number >= 1, got '{}'",
                           list[i].IsScalar() ? list[i].Scalar() : "a collection"));
    }
    dims[i] = static_cast<int>(dim);
  }
  return dims;
}

long long product(const std::array<int, 3>& dims) {
  return static_cast<long long>(dims[0]) * dims[1] * dims[2];
}

std::string shape_text(const std::array<int, 3>& dims) {
  return fmt::format("{}x{}x{}", dims[0], dims[1], dims[2]);
}

/// The accelerator named by the file: a catalog id, or a path relative to the system file.
AcceleratorSpec read_accelerator(YamlMap& root, const fs::path& file,
                                 const fs::path& hardware_dir) {
  const std::string ref = root.required_string("accelerator");
  if (looks_like_path(ref)) {
    fs::path path(ref);
    if (path.is_relative()) path = file.parent_path() / path;
    if (!fs::is_regular_file(path))
      root.fail("accelerator", fmt::format("no such file '{}'", path.string()));
    return load_accelerator_file(path);
  }
  const auto ids = accelerator_ids(hardware_dir);
  if (std::find(ids.begin(), ids.end(), ref) == ids.end()) {
    root.fail("accelerator", fmt::format("unknown accelerator '{}'{}; 'xpusim hw list' lists them",
                                         ref, did_you_mean(ref, ids)));
  }
  return load_accelerator_file(hardware_dir / (ref + ".yaml"));
}

/// Records that `system_key` takes the accelerator's figure `accelerator_key`.
void inherit(SystemSpec& system, const std::string& system_key,
             const std::string& accelerator_key) {
  for (const Figure& f : system.accelerator.figures) {
    if (f.key == accelerator_key) {
      system.inherited.push_back(Figure{system_key, f.value, f.provenance});
      return;
    }
  }
  throw Error(Error::Kind::kInternal, fmt::format("accelerator '{}' has no figure {}",
                                                  system.accelerator.id, accelerator_key));
}

/// Which scale-up figures the file states itself (the rest come from the accelerator).
struct StatedScaleUp {
  bool bandwidth = false;
  bool latency = false;
  bool domain = false;
};

StatedScaleUp read_scale_up(YamlMap& root, FigureReader& figures, SystemSpec& system) {
  YamlMap up = root.required_map("scale_up");
  ScaleUpFabric& fabric = system.scale_up;
  const AcceleratorSpec& chip = system.accelerator;
  StatedScaleUp stated;
  fabric.topology = read_scale_up_topology(up);
  if (auto bandwidth = figures.optional(up, "bandwidth_bytes_per_s")) {
    fabric.bandwidth = BytesPerSecond(*bandwidth);
    stated.bandwidth = true;
  } else {
    fabric.bandwidth = chip.scale_up_bandwidth;
    inherit(system, "scale_up.bandwidth_bytes_per_s", "scale_up.bandwidth_bytes_per_s");
  }
  if (auto latency = figures.optional(up, "latency_s")) {
    fabric.latency = Seconds(*latency);
    stated.latency = true;
  } else {
    fabric.latency = chip.scale_up_latency;
    inherit(system, "scale_up.latency_s", "scale_up.latency_s");
  }
  if (up.has("domain_devices")) {
    fabric.domain_devices = figures.required_count(up, "domain_devices");
    stated.domain = true;
  } else {
    fabric.domain_devices = chip.scale_up_domain_devices;
    inherit(system, "scale_up.domain_devices", "scale_up.domain_devices");
  }
  fabric.torus_dims = read_torus_dims(up, fabric.topology == ScaleUpTopology::kTorus);
  fabric.efficiency = chip.efficiency.scale_up_bandwidth_fraction;
  fabric.curve = chip.efficiency.scale_up_bus_bandwidth_curve;
  inherit(system, "scale_up.efficiency", "efficiency.scale_up_bandwidth_fraction");
  up.finish({"topology", "bandwidth_bytes_per_s", "latency_s", "domain_devices", "torus_dims"});
  return stated;
}

void read_scale_out(YamlMap& root, FigureReader& figures, SystemSpec& system) {
  YamlMap out = root.required_map("scale_out");
  ScaleOutNetwork& network = system.scale_out;
  network.topology = read_scale_out_topology(out);
  network.bandwidth = BytesPerSecond(figures.required(out, "bandwidth_bytes_per_s"));
  network.latency = Seconds(figures.required(out, "latency_s"));
  network.oversubscription = figures.required(out, "oversubscription");
  network.efficiency = figures.required_fraction(out, "efficiency");
  network.curve = read_bus_bandwidth_curve(out, "bus_bandwidth_curve", figures);
  network.torus_dims = read_torus_dims(out, network.topology == ScaleOutTopology::kTorus);
  out.finish({"topology", "bandwidth_bytes_per_s", "latency_s", "oversubscription", "efficiency",
              "bus_bandwidth_curve", "torus_dims"});
}

/// Every figure's plausible range (data/systems/README.md, "Bounds"), a decade or more past the
/// catalog's extremes: a value outside is a unit mistake whatever else it contradicts.
const std::vector<FigureRange>& system_ranges() {
  static const std::vector<FigureRange> ranges = {
      {"devices_per_node", 1, 1e4, "devices"},
      {"nodes", 1, 1e7, "nodes"},
      {"scale_up.bandwidth_bytes_per_s", 1e8, kMaxBandwidthBytesPerS, "bytes/s"},
      {"scale_up.latency_s", 1e-8, kMaxLatencyS, "s"},
      {"scale_up.domain_devices", 1, 1e5, "devices"},
      {"scale_up.efficiency", 0.01, 1, "(share)"},
      {"scale_up.bus_bandwidth_curve.ranks", 2, 1e7, "ranks"},
      {"scale_up.bus_bandwidth_curve.points[]", 1e-4, 1, "(share)"},
      {"scale_out.bandwidth_bytes_per_s", 1e7, kMaxBandwidthBytesPerS, "bytes/s"},
      {"scale_out.latency_s", 1e-8, kMaxLatencyS, "s"},
      {"scale_out.oversubscription", 1, 100, "(downlink / uplink)"},
      {"scale_out.efficiency", 0.01, 1, "(share)"},
      {"scale_out.bus_bandwidth_curve.ranks", 2, 1e7, "ranks"},
      {"scale_out.bus_bandwidth_curve.points[]", 1e-4, 1, "(share)"},
  };
  return ranges;
}

/// Refuses a file that contradicts its accelerator or itself; each message names a key.
void check_consistency(YamlMap& root, const SystemSpec& s, const StatedScaleUp& stated) {
  const AcceleratorSpec& chip = s.accelerator;
  const ScaleUpFabric& up = s.scale_up;
  const ScaleOutNetwork& out = s.scale_out;
  if (static_cast<long long>(s.nodes) * s.devices_per_node > kMaxDevices) {
    root.fail("nodes.value", fmt::format("{} nodes of {} devices exceed {} devices", s.nodes,
                                         s.devices_per_node, kMaxDevices));
  }
  if (stated.bandwidth && up.bandwidth > chip.scale_up_bandwidth) {
    root.fail("scale_up.bandwidth_bytes_per_s.value",
              fmt::format("{:g} exceeds the accelerator's {:g} ({} scale_up.bandwidth_bytes_per_s)",
                          up.bandwidth.value(), chip.scale_up_bandwidth.value(), chip.id));
  }
  if (stated.domain && up.domain_devices > chip.scale_up_domain_devices) {
    root.fail("scale_up.domain_devices.value",
              fmt::format("{} exceeds the accelerator's {} ({} scale_up.domain_devices)",
                          up.domain_devices, chip.scale_up_domain_devices, chip.id));
  }
  const std::string domain_origin =
      stated.domain ? "scale_up.domain_devices" : "scale_up.domain_devices of " + chip.id;
  if (s.devices_per_node > up.domain_devices) {
    root.fail("devices_per_node.value",
              fmt::format("{} devices per node exceed the scale-up domain of {} ({}); the "
                          "devices of a node share one domain",
                          s.devices_per_node, up.domain_devices, domain_origin));
  }
  if (up.domain_devices % s.devices_per_node != 0) {
    root.fail("devices_per_node.value",
              fmt::format("a scale-up domain of {} devices ({}) does not hold whole nodes of {}",
                          up.domain_devices, domain_origin, s.devices_per_node));
  }
  if (up.topology == ScaleUpTopology::kTorus && product(up.torus_dims) != up.domain_devices) {
    root.fail("scale_up.torus_dims",
              fmt::format("product {} = {} differs from the scale-up domain of {} devices ({})",
                          shape_text(up.torus_dims), product(up.torus_dims), up.domain_devices,
                          domain_origin));
  }
  if (s.devices() % up.domain_devices != 0) {
    root.fail("nodes.value",
              fmt::format("{} nodes of {} devices ({}) do not fill whole scale-up domains of {}",
                          s.nodes, s.devices_per_node, s.devices(), up.domain_devices));
  }
  if (out.oversubscription < 1.0) {
    root.fail(
        "scale_out.oversubscription.value",
        fmt::format("expected >= 1 (downlink / uplink bandwidth), got {}", out.oversubscription));
  }
  const long long domains = s.devices() / up.domain_devices;
  if (out.topology == ScaleOutTopology::kTorus && product(out.torus_dims) != domains) {
    root.fail("scale_out.torus_dims",
              fmt::format("product {} = {} differs from the number of scale-up domains ({})",
                          shape_text(out.torus_dims), product(out.torus_dims), domains));
  }
}

}  // namespace

ScaleUpFabric scale_up_fabric(const AcceleratorSpec& chip) {
  ScaleUpFabric f;
  f.topology = ScaleUpTopology::kSwitched;
  f.bandwidth = chip.scale_up_bandwidth;
  f.latency = chip.scale_up_latency;
  f.domain_devices = chip.scale_up_domain_devices;
  f.torus_dims = {1, 1, 1};
  f.efficiency = chip.efficiency.scale_up_bandwidth_fraction;
  f.curve = chip.efficiency.scale_up_bus_bandwidth_curve;
  return f;
}

SystemSpec load_system_file(const fs::path& file, const fs::path& hardware_dir) {
  YamlMap root = YamlMap::load_file(file);
  SystemSpec system;
  system.file = file;
  system.id = root.required_string("id");
  // A catalog file must be named after its id so that lookups by id find it.
  if (file.parent_path().filename() == "systems" && system.id != file.stem().string()) {
    root.fail("id", fmt::format("expected '{}' (the file name), got '{}'", file.stem().string(),
                                system.id));
  }
  system.name = root.required_string("name");
  system.sources = read_sources(root);
  system.accelerator = read_accelerator(root, file, hardware_dir);
  FigureReader figures(system.sources, system.figures);
  system.devices_per_node = figures.required_count(root, "devices_per_node");
  system.nodes = figures.required_count(root, "nodes");
  const StatedScaleUp stated = read_scale_up(root, figures, system);
  read_scale_out(root, figures, system);
  root.finish({"id", "name", "accelerator", "sources", "devices_per_node", "nodes", "scale_up",
               "scale_out"});
  check_figure_ranges(root.file(), system.figures, system_ranges());
  check_consistency(root, system, stated);
  return system;
}

}  // namespace xpusim

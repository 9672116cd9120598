// Finding systems by id or path, and resizing a system to a number of nodes.

#include <fmt/format.h>
#include <algorithm>
#include <optional>

#include "xpusim/core/error.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {

namespace fs = std::filesystem;

namespace {

/// The default system's scale-out estimates, as the catalog's system files take them
/// (data/systems/gb200-nvl72.yaml): latency of HCA, switch hops and NCCL proxy; efficiency the
/// mean of the two measured fractions.
constexpr double kDefaultScaleOutLatencyS = 5.0e-6;
constexpr double kDefaultScaleOutEfficiency = 0.70;

[[noreturn]] void nodes_error(const std::string& what) {
  throw_field_error("nodes", what);
}

/// The most cube-like shape a <= b <= c with a*b*c = devices that fits inside `full` (its sides
/// sorted), or nullopt when none does.
std::optional<std::array<int, 3>> torus_slice(std::array<int, 3> full, int devices) {
  std::sort(full.begin(), full.end());
  std::optional<std::array<int, 3>> best;
  for (int a = 1; a <= full[0]; ++a) {
    if (devices % a != 0) continue;
    for (int b = a; b <= full[1]; ++b) {
      if ((devices / a) % b != 0) continue;
      const int c = devices / a / b;
      if (c < b || c > full[2]) continue;
      if (!best || c < (*best)[2] || (c == (*best)[2] && b < (*best)[1])) best = {a, b, c};
    }
  }
  return best;
}

}  // namespace

std::string_view to_string(ScaleUpTopology topology) {
  switch (topology) {
    case ScaleUpTopology::kSwitched:
      return "switched";
    case ScaleUpTopology::kTorus:
      return "torus";
    case ScaleUpTopology::kRing:
      return "ring";
  }
  return "?";
}

std::string_view to_string(ScaleOutTopology topology) {
  switch (topology) {
    case ScaleOutTopology::kFatTree:
      return "fat_tree";
    case ScaleOutTopology::kRailOptimized:
      return "rail_optimized";
    case ScaleOutTopology::kTorus:
      return "torus";
  }
  return "?";
}

std::vector<std::string> system_ids(const fs::path& systems_dir) {
  return catalog_ids(systems_dir, ".yaml", "system");
}

SystemSpec load_system(const std::string& ref, const fs::path& systems_dir,
                       const fs::path& hardware_dir) {
  if (looks_like_path(ref)) return load_system_file(ref, hardware_dir);
  const auto ids = system_ids(systems_dir);
  if (std::find(ids.begin(), ids.end(), ref) == ids.end()) {
    throw Error(Error::Kind::kNotFound, "system",
                fmt::format("unknown system '{}'{}; 'xpusim system list' lists them", ref,
                            did_you_mean(ref, ids)));
  }
  return load_system_file(systems_dir / (ref + ".yaml"), hardware_dir);
}

std::vector<SystemSpec> load_all_systems(const fs::path& systems_dir,
                                         const fs::path& hardware_dir) {
  std::vector<SystemSpec> all;
  for (const auto& id : system_ids(systems_dir))
    all.push_back(load_system_file(systems_dir / (id + ".yaml"), hardware_dir));
  return all;
}

namespace {

/// The fewest domains, at least ceil(devices / domain), that `devices` fill evenly with whole
/// nodes (one node per domain always does).
int fewest_even_domains(long long devices, int domain, int devices_per_node) {
  const long long nodes = devices / devices_per_node;
  for (long long k = (devices + domain - 1) / domain; k < nodes; ++k) {
    if (devices % k == 0 && (devices / k) % devices_per_node == 0) return static_cast<int>(k);
  }
  return static_cast<int>(nodes);
}

}  // namespace

SystemSpec with_nodes(SystemSpec system, int nodes) {
  if (nodes < 1) nodes_error(fmt::format("expected at least 1, got {}", nodes));
  const long long devices = static_cast<long long>(nodes) * system.devices_per_node;
  if (devices > 10'000'000) nodes_error(fmt::format("{} nodes exceed 10000000 devices", nodes));
  ScaleUpFabric& up = system.scale_up;
  const int old_domains = system.devices() / up.domain_devices;
  const int old_nodes = system.nodes;
  if (devices >= up.domain_devices) {
    if (devices % up.domain_devices != 0) {
      if (up.topology == ScaleUpTopology::kTorus) {
        nodes_error(fmt::format(
            "{} nodes of {} devices ({}) do not fill whole scale-up domains of {} devices in {}, "
            "a torus that cannot be partly used; use a multiple of {} nodes, or fewer for a "
            "slice of one domain",
            nodes, system.devices_per_node, devices, up.domain_devices, system.id,
            up.domain_devices / system.devices_per_node));
      }
      const int domains = fewest_even_domains(devices, up.domain_devices, system.devices_per_node);
      const int used = static_cast<int>(devices / domains);
      system.notes.push_back(fmt::format(
          "{} devices do not fill whole scale-up domains of {}: they spread over {} domains, "
          "{} devices used in each",
          devices, up.domain_devices, domains, used));
      up.domain_devices = used;
    }
  } else if (up.topology == ScaleUpTopology::kTorus) {
    const auto slice = torus_slice(up.torus_dims, static_cast<int>(devices));
    if (!slice) {
      nodes_error(fmt::format("no torus slice of {} devices fits in the {}x{}x{} domain of {}",
                              devices, up.torus_dims[0], up.torus_dims[1], up.torus_dims[2],
                              system.id));
    }
    up.torus_dims = *slice;
    up.domain_devices = static_cast<int>(devices);
  } else {
    up.domain_devices = static_cast<int>(devices);
  }
  system.nodes = nodes;
  const int new_domains = system.devices() / up.domain_devices;
  if (system.scale_out.topology == ScaleOutTopology::kTorus && new_domains != old_domains) {
    nodes_error(
        fmt::format("the scale-out network of {} is a torus of {} scale-up domains and "
                    "cannot be resized to {}",
                    system.id, old_domains, new_domains));
  }
  // A default system (no file) starts from one domain: its size is its own, not growth.
  if (!system.file.empty() && nodes > old_nodes && new_domains > old_domains) {
    system.notes.push_back(fmt::format(
        "{} has {} nodes; {} assume its scale-out network grows with it at the same per-device "
        "bandwidth and oversubscription",
        system.id, old_nodes, nodes));
  }
  return system;
}

SystemSpec with_devices_per_domain(SystemSpec system, int devices) {
  ScaleUpFabric& up = system.scale_up;
  const auto fail = [&](const std::string& what) {
    throw Error(Error::Kind::kInput,
                fmt::format("{}: devices per scale-up domain: {}", system.id, what));
  };
  if (devices < 1 || devices > up.domain_devices) {
    fail(fmt::format("expected 1 to the domain's {} devices, got {}", up.domain_devices, devices));
  }
  if (devices % system.devices_per_node != 0) {
    fail(fmt::format("{} is not whole nodes of {} devices", devices, system.devices_per_node));
  }
  if (devices == up.domain_devices) return system;
  if (up.topology == ScaleUpTopology::kTorus)
    fail(fmt::format("the {}-device domain is a torus and cannot be partly used",
                     up.domain_devices));
  const int domains = system.devices() / up.domain_devices;
  system.notes.push_back(
      fmt::format("{} of the {} devices of each of the {} scale-up domains in use", devices,
                  up.domain_devices, domains));
  up.domain_devices = devices;
  system.nodes = domains * devices / system.devices_per_node;
  return system;
}

namespace {

/// The largest divisor of the domain up to 8 (an HGX-sized node, an NVL72 tray pair).
int default_devices_per_node(int domain) {
  for (int k = std::min(8, domain); k > 1; --k) {
    if (domain % k == 0) return k;
  }
  return 1;
}

void inherit_figure(SystemSpec& system, const std::string& system_key,
                    const std::string& accelerator_key) {
  for (const Figure& f : system.accelerator.figures) {
    if (f.key == accelerator_key) {
      system.inherited.push_back(Figure{system_key, f.value, f.provenance});
      return;
    }
  }
}

}  // namespace

SystemSpec default_system(const AcceleratorSpec& chip, int nodes, int devices_per_node,
                          int devices_per_domain) {
  const auto fail = [&](const std::string& key, const std::string& what) {
    throw Error(Error::Kind::kInput,
                fmt::format("default system of {}: {}: {}", chip.id, key, what));
  };
  const int domain = std::max(1, chip.scale_up_domain_devices);
  if (devices_per_node == 0) devices_per_node = default_devices_per_node(domain);
  if (devices_per_node < 1 || domain % devices_per_node != 0) {
    fail("devices per node", fmt::format("expected a divisor of the chip's {}-device scale-up "
                                         "domain, got {}",
                                         domain, devices_per_node));
  }
  if (nodes < 1) fail("nodes", fmt::format("expected at least 1, got {}", nodes));
  const long long devices = static_cast<long long>(nodes) * devices_per_node;
  if (devices > domain && !chip.scale_out_bandwidth) {
    fail("scale_out.bandwidth_bytes_per_s",
         fmt::format("{} devices exceed one {}-device scale-up domain, and the chip's file gives "
                     "no scale-out bandwidth; write a system file",
                     devices, domain));
  }
  SystemSpec s;
  s.id = "default-" + chip.id;
  s.name = fmt::format("{} nodes of {} x {} (default system)", nodes, devices_per_node, chip.name);
  s.accelerator = chip;
  s.devices_per_node = devices_per_node;
  s.nodes = domain / devices_per_node;  // one whole domain, resized below
  s.scale_up.topology = ScaleUpTopology::kSwitched;
  s.scale_up.bandwidth = chip.scale_up_bandwidth;
  s.scale_up.latency = chip.scale_up_latency;
  s.scale_up.domain_devices = domain;
  s.scale_up.efficiency = chip.efficiency.scale_up_bandwidth_fraction;
  s.scale_up.curve = chip.efficiency.scale_up_bus_bandwidth_curve;  // as scale_up_fabric
  inherit_figure(s, "scale_up.bandwidth_bytes_per_s", "scale_up.bandwidth_bytes_per_s");
  inherit_figure(s, "scale_up.latency_s", "scale_up.latency_s");
  inherit_figure(s, "scale_up.domain_devices", "scale_up.domain_devices");
  inherit_figure(s, "scale_up.efficiency", "efficiency.scale_up_bandwidth_fraction");
  const ScaleOutNetwork& out = s.scale_out;
  s.scale_out.topology = ScaleOutTopology::kRailOptimized;
  s.scale_out.bandwidth = chip.scale_out_bandwidth.value_or(BytesPerSecond(0.0));
  s.scale_out.latency = Seconds(kDefaultScaleOutLatencyS);
  s.scale_out.oversubscription = 1.0;
  s.scale_out.efficiency = kDefaultScaleOutEfficiency;
  if (chip.scale_out_bandwidth)
    inherit_figure(s, "scale_out.bandwidth_bytes_per_s", "scale_out.bandwidth_bytes_per_s");
  s.figures.push_back({"scale_out.latency_s",
                       kDefaultScaleOutLatencyS,
                       {"",
                        "the catalog systems' InfiniBand estimate: HCA and leaf/spine hops "
                        "plus NCCL proxy overhead",
                        ""}});
  s.figures.push_back({"scale_out.oversubscription",
                       1.0,
                       {"", "non-blocking, as the DGX SuperPOD compute fabrics", ""}});
  s.figures.push_back({"scale_out.efficiency",
                       kDefaultScaleOutEfficiency,
                       {"",
                        "mean of the catalog's measured fractions (dgx-a100-superpod 0.668, "
                        "dgx-b200 0.739)",
                        ""}});
  s.notes.push_back(fmt::format(
      "default system (no system file): nodes of {} {}, switched scale-up domains of {} at the "
      "chip's {:g} GB/s per device",
      devices_per_node, chip.id, domain, chip.scale_up_bandwidth.value() / 1e9));
  if (devices_per_domain != 0) s = with_devices_per_domain(std::move(s), devices_per_domain);
  SystemSpec sized = with_nodes(std::move(s), nodes);
  if (sized.devices() > sized.scale_up.domain_devices) {
    sized.notes.push_back(fmt::format(
        "assumed between domains: a non-blocking rail-optimized fat tree at the chip's {:g} GB/s "
        "scale-out per device, {:g} us latency, efficiency {:.2f} (estimates)",
        out.bandwidth.value() / 1e9, kDefaultScaleOutLatencyS * 1e6, kDefaultScaleOutEfficiency));
  }
  return sized;
}

SystemSpec default_system_for(const AcceleratorSpec& chip, int devices) {
  const int per_node = default_devices_per_node(std::max(1, chip.scale_up_domain_devices));
  const int nodes = std::max(1, (devices + per_node - 1) / per_node);
  return default_system(chip, nodes, per_node);
}

}  // namespace xpusim

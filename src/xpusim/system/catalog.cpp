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

[[noreturn]] void nodes_error(const std::string& what) {
  throw_input_error("command line", "--nodes", what);
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
    throw Error(Error::Kind::kNotFound,
                fmt::format("--system: unknown system '{}'{}; 'xpusim system list' lists them", ref,
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

SystemSpec with_nodes(SystemSpec system, int nodes) {
  if (nodes < 1) nodes_error(fmt::format("expected at least 1, got {}", nodes));
  const long long devices = static_cast<long long>(nodes) * system.devices_per_node;
  if (devices > 10'000'000) nodes_error(fmt::format("{} nodes exceed 10000000 devices", nodes));
  ScaleUpFabric& up = system.scale_up;
  const int old_domains = system.devices() / up.domain_devices;
  if (devices >= up.domain_devices) {
    if (devices % up.domain_devices != 0) {
      nodes_error(fmt::format(
          "{} nodes of {} devices ({}) do not fill whole scale-up domains of {} devices in {}; "
          "use a multiple of {} nodes, or fewer for a slice of one domain",
          nodes, system.devices_per_node, devices, up.domain_devices, system.id,
          up.domain_devices / system.devices_per_node));
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
  return system;
}

}  // namespace xpusim

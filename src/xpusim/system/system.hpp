#pragma once
// A cluster: accelerators in nodes, a scale-up fabric inside each domain (NVLink/NVSwitch, ICI,
// NeuronLink, xGMI) and a scale-out network between domains (InfiniBand, Ethernet, DCN).
// Read from data/systems/*.yaml (format: data/systems/README.md).

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/units.hpp"
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

enum class ScaleUpTopology {
  kSwitched,  ///< every device reaches every other at full bandwidth (NVSwitch, NVL72)
  kTorus,     ///< a 1-3 dimensional torus of direct links (TPU ICI, Trainium2 NeuronLink)
  kRing,      ///< a ring of direct links
};

enum class ScaleOutTopology {
  kFatTree,        ///< leaf/spine; traffic that leaves a leaf shares the oversubscribed uplinks
  kRailOptimized,  ///< one leaf per local rank ("rail"): same-rail traffic never crosses the spine
  kTorus,          ///< direct-connect torus of nodes/slices
};

struct ScaleUpFabric {
  ScaleUpTopology topology = ScaleUpTopology::kSwitched;
  BytesPerSecond bandwidth;  ///< per device, per direction, all links together
  Seconds latency;           ///< per hop / per collective step
  /// Devices that share the fabric (8 for HGX, 72 for NVL72, a pod or slice for TPU); whole nodes.
  int domain_devices = 1;
  /// For kTorus: the domain's shape (product = domain_devices), unused sides 1.
  std::array<int, 3> torus_dims{1, 1, 1};
  /// Achieved bus bandwidth / peak: the accelerator's `scale_up_bandwidth_fraction`.
  double efficiency = 1.0;
  /// Bus bandwidth by message size: the accelerator's `scale_up_bus_bandwidth_curve`.
  BusBandwidthCurve curve;
};

struct ScaleOutNetwork {
  ScaleOutTopology topology = ScaleOutTopology::kFatTree;
  BytesPerSecond bandwidth;       ///< per device, per direction (NIC rate / devices per NIC)
  Seconds latency;                ///< per message, end to end
  double oversubscription = 1.0;  ///< >= 1: downlink / uplink bandwidth at the leaves
  std::array<int, 3> torus_dims{1, 1, 1};  ///< for kTorus: in units of scale-up domains
  /// Achieved / peak for large messages (kernel-level evidence; data/systems/README.md).
  double efficiency = 1.0;
  /// Bus bandwidth by message size (`bus_bandwidth_curve`), indexed by the bytes per rank of the
  /// cross-domain step.
  BusBandwidthCurve curve;
};

struct SystemSpec {
  std::string id;
  std::string name;
  std::filesystem::path file;
  AcceleratorSpec accelerator;
  int devices_per_node = 1;
  int nodes = 1;
  ScaleUpFabric scale_up;
  ScaleOutNetwork scale_out;
  std::vector<Source> sources;
  std::vector<Figure> figures;  ///< the system file's own figures with provenance
  /// Figures the file leaves to its accelerator (scale-up bandwidth, latency and domain when
  /// absent, and always the scale-up efficiency), keyed by the system key path
  /// ("scale_up.bandwidth_bytes_per_s"); provenance source ids refer to `accelerator.sources`.
  std::vector<Figure> inherited;
  /// What a reader of results must know about how this system came to be, in plain words: the
  /// assumptions of a default system, a cluster grown past its file, domains partly used.
  std::vector<std::string> notes;

  [[nodiscard]] int devices() const { return devices_per_node * nodes; }
};

/// Parses a system YAML strictly; its accelerator is a catalog id or a path, resolved against
/// `hardware_dir`. A file that contradicts its accelerator (a faster fabric than the chip has,
/// a domain larger than the chip's) is an error naming the key.
[[nodiscard]] SystemSpec load_system_file(const std::filesystem::path& file,
                                          const std::filesystem::path& hardware_dir);

/// Ids of the shipped systems (file stems of `systems_dir/*.yaml`), sorted.
[[nodiscard]] std::vector<std::string> system_ids(const std::filesystem::path& systems_dir);

/// `ref` is a catalog id or a path to a YAML file.
[[nodiscard]] SystemSpec load_system(const std::string& ref,
                                     const std::filesystem::path& systems_dir,
                                     const std::filesystem::path& hardware_dir);

/// Every system of the catalog, in id order.
[[nodiscard]] std::vector<SystemSpec> load_all_systems(const std::filesystem::path& systems_dir,
                                                       const std::filesystem::path& hardware_dir);

/// The same system with `nodes` nodes (for --nodes); throws Error(kInput) when nodes < 1.
/// A cluster of at least one scale-up domain that does not fill whole domains spreads evenly
/// over the fewest domains that take whole nodes (256 GPUs on NVL72 racks: 4 racks of 64), and
/// says so in `notes`; a torus domain cannot be partly used. A smaller one is a slice of one
/// domain: its domain shrinks to the devices it has (for a torus, to the most cube-like shape
/// that fits inside the full one, e.g. 2048 devices of a 16x16x16 torus are 8x16x16). More
/// nodes than the file has are a note: the scale-out network is taken to grow with the same
/// per-device bandwidth and oversubscription. A scale-out torus has a fixed number of domains
/// and cannot be resized.
[[nodiscard]] SystemSpec with_nodes(SystemSpec system, int nodes);

/// The accelerator's own scale-up domain as one switched fabric (its catalog bandwidth, latency,
/// domain, efficiency and curve): what inference and serving price tensor parallelism on.
[[nodiscard]] ScaleUpFabric scale_up_fabric(const AcceleratorSpec& accelerator);

/// The same racks or pods with only `devices` of each scale-up domain in use (64 of an NVL72's
/// 72): whole nodes, at most the domain, a switched or ring domain. The number of domains is
/// kept; the nodes follow. Throws Error(kInput) otherwise.
[[nodiscard]] SystemSpec with_devices_per_domain(SystemSpec system, int devices);

/// A cluster of `chip` from the catalog alone: `nodes` nodes of `devices_per_node` devices (0:
/// the largest divisor of the chip's scale-up domain up to 8), switched scale-up domains of the
/// chip's size and figures, and between domains a non-blocking rail-optimized fat tree at the
/// chip's scale_out bandwidth (needed once the devices exceed one domain), with estimated
/// latency and efficiency. `devices_per_domain` (0: all) as with_devices_per_domain. `notes`
/// states every assumption. Throws Error(kInput) on bad counts.
[[nodiscard]] SystemSpec default_system(const AcceleratorSpec& chip, int nodes,
                                        int devices_per_node, int devices_per_domain = 0);

/// The chip's default system (default devices per node) of the fewest nodes that hold
/// `devices`: what a bare accelerator becomes for inference and serving. Throws as
/// default_system.
[[nodiscard]] SystemSpec default_system_for(const AcceleratorSpec& chip, int devices);

/// "switched", "torus", "ring"; "fat_tree", "rail_optimized", "torus" (the YAML spellings).
[[nodiscard]] std::string_view to_string(ScaleUpTopology topology);
[[nodiscard]] std::string_view to_string(ScaleOutTopology topology);

}  // namespace xpusim

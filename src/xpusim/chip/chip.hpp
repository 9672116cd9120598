#pragma once
// A chip as its architect describes it: process, die, matrix and vector units, SRAM, memory
// stacks, links and power (format: data/chips/README.md), and the process, memory and
// packaging figures it is built from (data/process/). `derive.hpp` turns it into peaks,
// bandwidths, die economics and a catalog accelerator entry.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/figures.hpp"
#include "xpusim/core/units.hpp"

namespace xpusim {

/// How the share of good dies follows from die area and defect density.
enum class YieldModel {
  kPoisson,  ///< Y = exp(-A D0)
  kMurphy,   ///< Y = ((1 - exp(-A D0)) / (A D0))^2
};

/// One foundry process (data/process/nodes/ID.yaml).
struct ProcessNode {
  std::string id;
  std::string name;
  Usd wafer_price;
  double wafer_diameter_mm = 0.0;
  double edge_exclusion_mm = 0.0;
  double defect_density_per_cm2 = 0.0;
  double reticle_limit_mm2 = 0.0;
  YieldModel yield_model = YieldModel::kMurphy;
  std::vector<Source> sources;
  std::vector<Figure> figures;
};

/// One memory generation (data/process/memory/ID.yaml); GB are 1e9 bytes.
struct MemoryGeneration {
  std::string id;
  std::string name;
  double price_usd_per_gb = 0.0;
  std::vector<Source> sources;
  std::vector<Figure> figures;
};

/// One package technology (data/process/packaging/ID.yaml).
struct Packaging {
  std::string id;
  std::string name;
  Usd package;  ///< interposer or substrate and assembly of one package
  Usd test;     ///< final test of one package
  std::vector<Source> sources;
  std::vector<Figure> figures;
};

struct SramLevel {
  std::string level;
  Bytes bytes_per_instance;
  int instances = 0;
};

struct ChipSpec {
  std::string id;  ///< id of the derived accelerator entry
  std::string name;
  std::string vendor;
  std::string architecture;
  int launch_year = 0;
  std::string sibling;  ///< catalog accelerator whose calibration the entry takes

  std::string node;       ///< data/process/nodes/ id
  std::string packaging;  ///< data/process/packaging/ id
  double die_area_mm2 = 0.0;
  int logic_dies = 1;
  std::optional<double> transistors;

  int compute_units = 0;
  int matrix_units = 0;
  double matrix_clock_hz = 0.0;
  int shape_m = 0, shape_n = 0, shape_k = 0;
  /// MACs per cycle relative to m x n x k, per data type; nullopt where the units lack it.
  std::array<std::optional<double>, kDTypeCount> rate_per_dtype{};
  int output_tile_m = 0, output_tile_n = 0;

  int vector_lanes = 0;
  double vector_flops_per_lane_per_cycle = 0.0;
  double vector_clock_hz = 0.0;
  bool vector_is_fp32_peak = false;

  std::vector<SramLevel> sram;

  std::string memory_generation;  ///< data/process/memory/ id
  int memory_stacks = 0;
  Bytes capacity_per_stack;
  int pins_per_stack = 0;
  double pin_rate_bits_per_s = 0.0;

  int scale_up_links = 0;
  BytesPerSecond scale_up_link_bandwidth;
  int scale_up_domain_devices = 0;
  Seconds scale_up_latency;
  std::optional<int> scale_out_links;
  std::optional<BytesPerSecond> scale_out_link_bandwidth;
  std::optional<BytesPerSecond> host_link_bandwidth;

  Watts tdp;

  std::vector<Source> sources;
  std::vector<Figure> figures;  ///< every number above, with its provenance
  std::filesystem::path file;
};

/// Parses one chip YAML strictly (data/chips/README.md).
[[nodiscard]] ChipSpec load_chip_file(const std::filesystem::path& file);

/// The process, memory and packaging a chip names, from `process_dir` (data/process/).
struct ChipInputs {
  ProcessNode node;
  MemoryGeneration memory;
  Packaging packaging;
};

/// Loads the node, memory generation and packaging `chip` names; an unknown id is an error at
/// the chip file's key with the closest ids.
[[nodiscard]] ChipInputs load_chip_inputs(const ChipSpec& chip,
                                          const std::filesystem::path& process_dir);

/// Parses data/process/nodes/ID.yaml (and the memory and packaging files) strictly.
[[nodiscard]] ProcessNode load_process_node_file(const std::filesystem::path& file);
[[nodiscard]] MemoryGeneration load_memory_generation_file(const std::filesystem::path& file);
[[nodiscard]] Packaging load_packaging_file(const std::filesystem::path& file);

}  // namespace xpusim

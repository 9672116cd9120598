// The system catalog (data/systems/*.yaml): every shipped system loads and is consistent, its
// figures carry their sources, `with_nodes` resizes, and bad input is refused with a message
// that names the file and the key ("FILE: key.path: what"). Bad-input cases make one change each
// to a shipped file (parsed with yaml-cpp) and write it to a scratch directory.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/comm/group.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {
namespace {

namespace fs = std::filesystem;
using testing::hardware_dir;

fs::path systems_dir() {
  return testing::data_dir() / "systems";
}

SystemSpec shipped(const std::string& id) {
  return load_system(id, systems_dir(), hardware_dir());
}

using testing::error_of;
using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

// --- The shipped catalog ------------------------------------------------------------------------

const std::map<std::string, int> kExpectedDevices = {{"dgx-a100-superpod", 4480},
                                                     {"dgx-h100-superpod", 1016},
                                                     {"dgx-b200", 1016},
                                                     {"gb200-nvl72", 576},
                                                     {"tpu-v4-pod", 4096},
                                                     {"tpu-v5p-pod", 8960},
                                                     {"trainium2-ultracluster", 4096},
                                                     {"maia100-rack", 32}};

TEST(SystemCatalog, ShipsTheRequiredSystems) {
  const auto ids = system_ids(systems_dir());
  for (const auto& [id, devices] : kExpectedDevices)
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
}

TEST(SystemCatalog, EverySystemLoadsUnderItsFileName) {
  const auto all = load_all_systems(systems_dir(), hardware_dir());
  EXPECT_EQ(all.size(), system_ids(systems_dir()).size());
  for (const auto& s : all) {
    EXPECT_EQ(s.id, s.file.stem().string());
    EXPECT_FALSE(s.name.empty()) << s.id;
    EXPECT_EQ(s.devices(), s.nodes * s.devices_per_node) << s.id;
    if (kExpectedDevices.count(s.id)) {
      EXPECT_EQ(s.devices(), kExpectedDevices.at(s.id)) << s.id;
    }
  }
}

TEST(SystemCatalog, DeviceCountsAreThePublishedOnes) {
  const auto selene = shipped("dgx-a100-superpod");
  EXPECT_EQ(selene.accelerator.id, "a100-sxm-80gb");
  EXPECT_EQ(selene.nodes, 560);
  EXPECT_EQ(selene.scale_out.bandwidth, BytesPerSecond(25e9));
  const auto nvl72 = shipped("gb200-nvl72");
  EXPECT_EQ(nvl72.devices_per_node, 4);
  EXPECT_EQ(nvl72.scale_up.domain_devices, 72);
  const auto v4 = shipped("tpu-v4-pod");
  EXPECT_EQ(v4.scale_up.topology, ScaleUpTopology::kTorus);
  EXPECT_EQ(v4.scale_up.torus_dims, (std::array<int, 3>{16, 16, 16}));
  const auto v5p = shipped("tpu-v5p-pod");
  EXPECT_EQ(v5p.scale_up.torus_dims, (std::array<int, 3>{16, 20, 28}));
  const auto trn2 = shipped("trainium2-ultracluster");
  EXPECT_EQ(trn2.devices_per_node, 16);
  EXPECT_EQ(trn2.scale_up.domain_devices, 64);
  EXPECT_EQ(trn2.scale_out.bandwidth, BytesPerSecond(25e9));
}

TEST(SystemCatalog, EveryFigureCarriesItsSourceOrItsBasis) {
  for (const auto& s : load_all_systems(systems_dir(), hardware_dir())) {
    EXPECT_GE(s.figures.size(), 6u) << s.id;
    for (const auto& f : s.figures) {
      const bool sourced = std::any_of(s.sources.begin(), s.sources.end(), [&](const Source& src) {
        return src.id == f.provenance.source_id;
      });
      EXPECT_TRUE(sourced || !f.provenance.estimate.empty()) << s.id << " " << f.key;
    }
    for (const auto& f : s.inherited) {
      const auto& chip = s.accelerator.sources;
      const bool sourced = std::any_of(chip.begin(), chip.end(), [&](const Source& src) {
        return src.id == f.provenance.source_id;
      });
      EXPECT_TRUE(sourced || !f.provenance.estimate.empty()) << s.id << " " << f.key;
    }
    for (const auto& src : s.sources) EXPECT_FALSE(src.url.empty()) << s.id << " " << src.id;
  }
}

TEST(SystemCatalog, FabricsAreConsistent) {
  for (const auto& s : load_all_systems(systems_dir(), hardware_dir())) {
    const ScaleUpFabric& up = s.scale_up;
    EXPECT_EQ(up.domain_devices % s.devices_per_node, 0) << s.id;
    EXPECT_EQ(s.devices() % up.domain_devices, 0) << s.id;
    EXPECT_LE(up.bandwidth, s.accelerator.scale_up_bandwidth) << s.id;
    EXPECT_LE(up.domain_devices, s.accelerator.scale_up_domain_devices) << s.id;
    if (up.topology == ScaleUpTopology::kTorus) {
      EXPECT_EQ(up.torus_dims[0] * up.torus_dims[1] * up.torus_dims[2], up.domain_devices) << s.id;
    }
    EXPECT_EQ(up.efficiency, s.accelerator.efficiency.scale_up_bandwidth_fraction) << s.id;
    for (double fraction : {up.efficiency, s.scale_out.efficiency}) {
      EXPECT_GT(fraction, 0.5) << s.id;
      EXPECT_LE(fraction, 1.0) << s.id;
    }
    EXPECT_GE(s.scale_out.oversubscription, 1.0) << s.id;
    EXPECT_LT(s.scale_out.bandwidth, up.bandwidth) << s.id;
  }
}

TEST(SystemCatalog, ScaleUpFiguresLeftOutComeFromTheAcceleratorAndSaySo) {
  const auto s = shipped("dgx-h100-superpod");
  EXPECT_EQ(s.scale_up.bandwidth, s.accelerator.scale_up_bandwidth);
  EXPECT_EQ(s.scale_up.bandwidth, BytesPerSecond(450e9));
  EXPECT_EQ(s.scale_up.latency, s.accelerator.scale_up_latency);
  std::vector<std::string> keys;
  for (const auto& f : s.inherited) keys.push_back(f.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"scale_up.bandwidth_bytes_per_s", "scale_up.latency_s",
                                            "scale_up.domain_devices", "scale_up.efficiency"}));
  EXPECT_DOUBLE_EQ(s.inherited.back().value, 0.822);
}

TEST(SystemCatalog, PathLoadsLikeACatalogId) {
  const auto by_id = shipped("tpu-v4-pod");
  const auto by_path =
      load_system((systems_dir() / "tpu-v4-pod.yaml").string(), systems_dir(), hardware_dir());
  EXPECT_EQ(by_id.name, by_path.name);
  EXPECT_EQ(by_id.devices(), by_path.devices());
  EXPECT_EQ(by_id.scale_up.torus_dims, by_path.scale_up.torus_dims);
}

TEST(SystemCatalog, AcceleratorMayBeAPathRelativeToTheSystemFile) {
  ScratchDir dir;
  fs::copy_file(hardware_dir() / "h100-sxm.yaml", dir.path() / "my-chip.yaml");
  YAML::Node y = YAML::LoadFile((systems_dir() / "dgx-h100-superpod.yaml").string());
  y["accelerator"] = "./my-chip.yaml";
  write_text(dir.path() / "mine.yaml", YAML::Dump(y));
  const auto s = load_system((dir.path() / "mine.yaml").string(), systems_dir(), hardware_dir());
  EXPECT_EQ(s.accelerator.id, "h100-sxm");
  EXPECT_EQ(s.devices(), 1016);
}

TEST(SystemCatalog, UnknownIdSuggestsTheClosest) {
  EXPECT_EQ(error_of([] { (void)shipped("dgx-h100-superpd"); }),
            "system: unknown system 'dgx-h100-superpd' (did you mean: dgx-h100-superpod, "
            "dgx-a100-superpod?); "
            "'xpusim system list' lists them");
}

// --- with_nodes ---------------------------------------------------------------------------------

TEST(WithNodes, ResizesWholeDomains) {
  const auto s = with_nodes(shipped("dgx-h100-superpod"), 16);
  EXPECT_EQ(s.nodes, 16);
  EXPECT_EQ(s.devices(), 128);
  EXPECT_EQ(s.scale_up.domain_devices, 8);
  EXPECT_EQ(with_nodes(shipped("gb200-nvl72"), 36).devices(), 144);
}

TEST(WithNodes, FewerDevicesThanADomainAreASliceOfIt) {
  const auto rack_part = with_nodes(shipped("gb200-nvl72"), 2);
  EXPECT_EQ(rack_part.devices(), 8);
  EXPECT_EQ(rack_part.scale_up.domain_devices, 8);
  const auto v4 = with_nodes(shipped("tpu-v4-pod"), 512);
  EXPECT_EQ(v4.scale_up.domain_devices, 2048);
  EXPECT_EQ(v4.scale_up.torus_dims, (std::array<int, 3>{8, 16, 16}));
  const auto v5p = with_nodes(shipped("tpu-v5p-pod"), 1536);
  EXPECT_EQ(v5p.scale_up.torus_dims, (std::array<int, 3>{16, 16, 24}));
  const auto cube = with_nodes(shipped("tpu-v4-pod"), 16);
  EXPECT_EQ(cube.scale_up.torus_dims, (std::array<int, 3>{4, 4, 4}));
}

TEST(WithNodes, RefusesWhatCannotBeBuilt) {
  EXPECT_EQ(error_of([] { (void)with_nodes(shipped("dgx-h100-superpod"), 0); }),
            "nodes: expected at least 1, got 0");
  EXPECT_EQ(error_of([] { (void)with_nodes(shipped("tpu-v4-pod"), 1025); }),
            "nodes: 1025 nodes of 4 devices (4100) do not fill whole scale-up "
            "domains of 4096 devices in tpu-v4-pod, a torus that cannot be partly used; use a "
            "multiple of 1024 nodes, or fewer for a slice of one domain");
  EXPECT_EQ(error_of([] { (void)with_nodes(shipped("tpu-v4-pod"), 17); }),
            "nodes: no torus slice of 68 devices fits in the 16x16x16 domain of "
            "tpu-v4-pod");
}

TEST(WithNodes, DevicesThatDoNotFillWholeDomainsSpreadEvenlyOverTheFewest) {
  // 256 GPUs on NVL72 racks: 4 racks of 64 (16 trays each), not 3 full racks and a part.
  const auto racks = with_nodes(shipped("gb200-nvl72"), 64);
  EXPECT_EQ(racks.devices(), 256);
  EXPECT_EQ(racks.scale_up.domain_devices, 64);
  ASSERT_EQ(racks.notes.size(), 1u);
  EXPECT_EQ(racks.notes[0],
            "256 devices do not fill whole scale-up domains of 72: they spread over 4 domains, 64 "
            "devices used in each");
  // 80 GPUs: 2 racks of 40 (10 trays each).
  EXPECT_EQ(with_nodes(shipped("gb200-nvl72"), 20).scale_up.domain_devices, 40);
  // A tensor-parallel group of 64 then fits one domain; one of 72 no longer exists.
  const GroupPlacement tp64 = place_group(64, 1, racks);
  EXPECT_EQ(tp64.ranks_per_domain, 64);
  EXPECT_EQ(place_group(8, 64, racks).ranks_per_domain, 1);  // dp across the 4 racks
}

TEST(WithNodes, GrowingPastTheFileSaysSo) {
  const auto grown = with_nodes(shipped("dgx-h100-superpod"), 1024);
  ASSERT_EQ(grown.notes.size(), 1u);
  EXPECT_EQ(grown.notes[0],
            "dgx-h100-superpod has 127 nodes; 1024 assume its scale-out network grows with it at "
            "the same per-device bandwidth and oversubscription");
  EXPECT_TRUE(with_nodes(shipped("dgx-h100-superpod"), 16).notes.empty());
}

TEST(DevicesPerDomain, UsesPartOfEachDomainAndKeepsTheRacks) {
  const auto part = with_devices_per_domain(shipped("gb200-nvl72"), 64);
  EXPECT_EQ(part.scale_up.domain_devices, 64);
  EXPECT_EQ(part.devices(), 8 * 64);
  EXPECT_EQ(part.nodes, 8 * 16);
  EXPECT_EQ(part.notes.at(0), "64 of the 72 devices of each of the 8 scale-up domains in use");
  // Then --nodes: 256 GPUs on 4 racks of 64.
  const auto sized = with_nodes(part, 64);
  EXPECT_EQ(sized.devices(), 256);
  EXPECT_EQ(sized.scale_up.domain_devices, 64);
  EXPECT_EQ(error_of([] { (void)with_devices_per_domain(shipped("gb200-nvl72"), 66); }),
            "gb200-nvl72: devices per scale-up domain: 66 is not whole nodes of 4 devices");
  EXPECT_EQ(error_of([] { (void)with_devices_per_domain(shipped("gb200-nvl72"), 76); }),
            "gb200-nvl72: devices per scale-up domain: expected 1 to the domain's 72 devices, got "
            "76");
  EXPECT_EQ(error_of([] { (void)with_devices_per_domain(shipped("tpu-v4-pod"), 2048); }),
            "tpu-v4-pod: devices per scale-up domain: the 4096-device domain is a torus and cannot "
            "be partly used");
}

// --- default_system -----------------------------------------------------------------------------

TEST(DefaultSystem, BuildsAClusterFromTheCatalogAndStatesItsAssumptions) {
  const AcceleratorSpec h200 = testing::hw("h200-sxm");
  const SystemSpec s = default_system(h200, 4, 0);
  EXPECT_EQ(s.devices_per_node, 8);
  EXPECT_EQ(s.devices(), 32);
  EXPECT_EQ(s.scale_up.domain_devices, 8);
  EXPECT_EQ(s.scale_up.bandwidth, h200.scale_up_bandwidth);
  EXPECT_EQ(s.scale_out.topology, ScaleOutTopology::kRailOptimized);
  EXPECT_EQ(s.scale_out.bandwidth, *h200.scale_out_bandwidth);
  EXPECT_EQ(s.scale_out.oversubscription, 1.0);
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[0],
            "default system (no system file): nodes of 8 h200-sxm, switched scale-up domains of 8 "
            "at the chip's 450 GB/s per device");
  EXPECT_EQ(s.notes[1],
            "assumed between domains: a non-blocking rail-optimized fat tree at the chip's 50 GB/s "
            "scale-out per device, 5 us latency, efficiency 0.70 (estimates)");
  // Every figure has a provenance: the chip's, or a stated estimate.
  for (const Figure& f : s.figures) EXPECT_FALSE(f.provenance.estimate.empty()) << f.key;
  EXPECT_EQ(s.inherited.size(), 5u);
  // 8 GPUs of an NVL72: one slice of a domain; 256 on racks of 64.
  const AcceleratorSpec gb200 = testing::hw("gb200");
  EXPECT_EQ(default_system(gb200, 2, 4).scale_up.domain_devices, 8);
  const SystemSpec racks = default_system(gb200, 64, 4);
  EXPECT_EQ(racks.devices(), 256);
  EXPECT_EQ(racks.scale_up.domain_devices, 64);
  EXPECT_EQ(default_system(gb200, 64, 4, 32).scale_up.domain_devices, 32);
}

TEST(DefaultSystem, RefusesWhatTheCatalogCannotBuild) {
  const AcceleratorSpec mi300x = testing::hw("mi300x");
  EXPECT_EQ(default_system(mi300x, 1, 0).devices(), 8);  // one domain needs no scale-out
  EXPECT_EQ(error_of([&] { (void)default_system(mi300x, 2, 0); }),
            "default system of mi300x: scale_out.bandwidth_bytes_per_s: 16 devices exceed one "
            "8-device scale-up domain, and the chip's file gives no scale-out bandwidth; write a "
            "system file");
  EXPECT_EQ(error_of([&] { (void)default_system(mi300x, 1, 3); }),
            "default system of mi300x: devices per node: expected a divisor of the chip's "
            "8-device scale-up domain, got 3");
}

// --- Bad input: one change each to a shipped file -----------------------------------------------

YAML::Node figure_of(const char* value, const char* provenance_key, const char* provenance) {
  YAML::Node figure;
  figure["value"] = value;
  figure[provenance_key] = provenance;
  return figure;
}

struct BadCase {
  const char* name;
  const char* base;                         ///< the shipped system the case changes
  std::function<void(YAML::Node&)> change;  ///< of its parsed YAML
  const char* expected;                     ///< the message after "FILE: "
};

const BadCase kBadCases[] = {
    // Unknown and missing keys.
    {"UnknownTopLevelKey", "dgx-h100-superpod", [](YAML::Node& y) { y["nodez"] = 4; },
     "nodez: unknown key (did you mean: nodes?)"},
    {"UnknownScaleUpKey", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_up"]["latency"] = figure_of("2e-6", "estimate", "guess"); },
     "scale_up.latency: unknown key (did you mean: latency_s?)"},
    {"UnknownFigureKey", "dgx-h100-superpod", [](YAML::Node& y) { y["nodes"]["sources"] = "x"; },
     "nodes.sources: unknown key (did you mean: source?)"},
    {"MissingKey", "dgx-h100-superpod", [](YAML::Node& y) { y.remove("nodes"); },
     "nodes: missing (required)"},
    {"MissingSection", "dgx-h100-superpod", [](YAML::Node& y) { y.remove("scale_out"); },
     "scale_out: missing (required)"},
    {"MissingScaleOutFigure", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_out"].remove("efficiency"); },
     "scale_out.efficiency: missing (required)"},
    {"FigureWithoutProvenance", "dgx-h100-superpod",
     [](YAML::Node& y) { y["nodes"].remove("source"); },
     "nodes.source: expected exactly one of 'source' (a source id) or 'estimate' (its basis)"},
    {"UnknownSourceId", "dgx-h100-superpod",
     [](YAML::Node& y) { y["nodes"]["source"] = "dgx_superpod_h100"; },
     "nodes.source: unknown source id 'dgx_superpod_h100' (did you mean: dgx_superpod_h100_ra?)"},
    {"FractionalNodes", "dgx-h100-superpod", [](YAML::Node& y) { y["nodes"]["value"] = "12.5"; },
     "nodes.value: expected a whole number, got 12.5"},
    // Names.
    {"UnknownAccelerator", "dgx-h100-superpod",
     [](YAML::Node& y) { y["accelerator"] = "h100-sxn"; },
     "accelerator: unknown accelerator 'h100-sxn' (did you mean: h100-sxm, h200-sxm?); 'xpusim hw "
     "list' lists them"},
    {"UnknownScaleUpTopology", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_up"]["topology"] = "swtiched"; },
     "scale_up.topology: unknown topology 'swtiched' (did you mean: switched?); expected switched, "
     "torus or ring"},
    {"UnknownScaleOutTopology", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_out"]["topology"] = "fat-tree"; },
     "scale_out.topology: unknown topology 'fat-tree' (did you mean: fat_tree?); expected "
     "fat_tree, rail_optimized or torus"},
    // Contradictions with the accelerator.
    {"ScaleUpFasterThanTheChip", "dgx-h100-superpod",
     [](YAML::Node& y) {
       y["scale_up"]["bandwidth_bytes_per_s"] = figure_of("900e9", "estimate", "bidirectional");
     },
     "scale_up.bandwidth_bytes_per_s.value: 9e+11 exceeds the accelerator's 4.5e+11 (h100-sxm "
     "scale_up.bandwidth_bytes_per_s)"},
    {"DomainLargerThanTheChips", "dgx-h100-superpod",
     [](YAML::Node& y) {
       y["scale_up"]["domain_devices"] = figure_of("256", "estimate", "NVL256");
     },
     "scale_up.domain_devices.value: 256 exceeds the accelerator's 8 (h100-sxm "
     "scale_up.domain_devices)"},
    // Contradictions within the file.
    {"MoreDevicesPerNodeThanTheDomain", "dgx-h100-superpod",
     [](YAML::Node& y) { y["devices_per_node"]["value"] = 16; },
     "devices_per_node.value: 16 devices per node exceed the scale-up domain of 8 "
     "(scale_up.domain_devices of h100-sxm); the devices of a node share one domain"},
    {"DomainOfPartialNodes", "tpu-v4-pod",
     [](YAML::Node& y) { y["devices_per_node"]["value"] = 3; },
     "devices_per_node.value: a scale-up domain of 4096 devices (scale_up.domain_devices of "
     "tpu-v4) does not hold whole nodes of 3"},
    {"TorusDimsNotTheDomain", "tpu-v4-pod",
     [](YAML::Node& y) { y["scale_up"]["torus_dims"] = YAML::Load("[16, 16, 8]"); },
     "scale_up.torus_dims: product 16x16x8 = 2048 differs from the scale-up domain of 4096 "
     "devices (scale_up.domain_devices of tpu-v4)"},
    {"TorusWithoutDims", "tpu-v4-pod", [](YAML::Node& y) { y["scale_up"].remove("torus_dims"); },
     "scale_up.torus_dims: missing (required for topology torus)"},
    {"TorusDimsOfASwitch", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_up"]["torus_dims"] = YAML::Load("[2, 4]"); },
     "scale_up.torus_dims: only for topology torus"},
    {"BadTorusDim", "tpu-v4-pod",
     [](YAML::Node& y) { y["scale_up"]["torus_dims"] = YAML::Load("[16, 0, 16]"); },
     "scale_up.torus_dims[1]: expected a whole number >= 1, got '0'"},
    {"NodesThatSplitADomain", "gb200-nvl72", [](YAML::Node& y) { y["nodes"]["value"] = 20; },
     "nodes.value: 20 nodes of 4 devices (80) do not fill whole scale-up domains of 72"},
    {"ScaleOutTorusNotTheDomains", "gb200-nvl72",
     [](YAML::Node& y) {
       y["scale_out"]["topology"] = "torus";
       y["scale_out"]["torus_dims"] = YAML::Load("[2, 2]");
     },
     "scale_out.torus_dims: product 2x2x1 = 4 differs from the number of scale-up domains (8)"},
    {"Undersubscribed", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_out"]["oversubscription"]["value"] = 0.5; },
     "scale_out.oversubscription.value: expected 1 to 100 (downlink / uplink), got 0.5"},
    {"EfficiencyAboveOne", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_out"]["efficiency"]["value"] = 1.2; },
     "scale_out.efficiency.value: expected a fraction in (0, 1], got 1.2"},
    {"LatencyInMicroseconds", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_out"]["latency_s"]["value"] = 5; },
     "scale_out.latency_s.value: expected 1e-08 to 0.01 s, got 5"},
    {"BandwidthInBits", "dgx-h100-superpod",
     [](YAML::Node& y) { y["scale_out"]["bandwidth_bytes_per_s"]["value"] = "400e12"; },
     "scale_out.bandwidth_bytes_per_s.value: expected 1e+07 to 1e+13 bytes/s, got 4e+14"},
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

class BadSystemFile : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSystemFile, IsRefusedWithAMessageNamingTheKey) {
  const BadCase& c = GetParam();
  YAML::Node y = YAML::LoadFile((systems_dir() / (std::string(c.base) + ".yaml")).string());
  c.change(y);
  ScratchDir dir;
  const fs::path file = dir.path() / "case.yaml";
  write_text(file, YAML::Dump(y));
  EXPECT_EQ(error_of([&] { (void)load_system_file(file, hardware_dir()); }),
            file.string() + ": " + c.expected);
}

INSTANTIATE_TEST_SUITE_P(SystemYaml, BadSystemFile, ::testing::ValuesIn(kBadCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(BadSystemFile, CatalogFileMustBeNamedAfterItsId) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "systems");
  const fs::path file = dir.path() / "systems" / "renamed.yaml";
  write_text(file, read_text(systems_dir() / "dgx-b200.yaml"));
  EXPECT_EQ(error_of([&] { (void)load_system_file(file, hardware_dir()); }),
            file.string() + ": id: expected 'renamed' (the file name), got 'dgx-b200'");
}

TEST(BadSystemFile, MalformedYamlNamesTheLine) {
  ScratchDir dir;
  const fs::path file = dir.path() / "malformed.yaml";
  write_text(file,
             "id: malformed\nname: Malformed\naccelerator: h100-sxm\n"
             "nodes: {value: 4, source: x\ndevices_per_node: {value: 8, source: x}\n");
  const std::string message = error_of([&] { (void)load_system_file(file, hardware_dir()); });
  EXPECT_EQ(message.rfind(file.string() + ": malformed YAML at line ", 0), 0u) << message;
}

TEST(BadSystemFile, MissingFileIsNotFound) {
  EXPECT_EQ(
      error_of([] { (void)load_system("./no-such-system.yaml", systems_dir(), hardware_dir()); }),
      "./no-such-system.yaml: no such file");
}

// --- The command line ---------------------------------------------------------------------------

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

CliRun run_cli(const std::vector<std::string>& args) {
  ScratchDir scratch;
  const fs::path out = scratch.path() / "stdout", err = scratch.path() / "stderr";
  std::string command =
      std::string("'") + XPUSIM_BINARY + "' --data-dir '" + XPUSIM_SOURCE_DATADIR + "'";
  for (const auto& arg : args) command += " '" + arg + "'";
  command += " >'" + out.string() + "' 2>'" + err.string() + "'";
  const int raw = std::system(command.c_str());
  CliRun run;
  run.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read_text(out);
  run.err = read_text(err);
  return run;
}

TEST(SystemCli, ShowJsonHasCountsFabricsAndFigures) {
  const CliRun run = run_cli({"system", "show", "dgx-h100-superpod", "--format", "json"});
  ASSERT_EQ(run.status, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j.at("id"), "dgx-h100-superpod");
  EXPECT_EQ(j.at("accelerator"), "h100-sxm");
  EXPECT_EQ(j.at("devices_per_node"), 8);
  EXPECT_EQ(j.at("nodes"), 127);
  EXPECT_EQ(j.at("devices"), 1016);
  EXPECT_EQ(j.at("scale_up").at("topology"), "switched");
  EXPECT_DOUBLE_EQ(j.at("scale_up").at("bandwidth_bytes_per_s").get<double>(), 450e9);
  EXPECT_EQ(j.at("scale_out").at("topology"), "rail_optimized");
  EXPECT_DOUBLE_EQ(j.at("scale_out").at("bandwidth_bytes_per_s").get<double>(), 50e9);
  for (const auto& f : j.at("figures"))
    EXPECT_TRUE(f.contains("source") || f.contains("estimate")) << f.dump();
}

TEST(SystemCli, ListJsonHasEveryId) {
  const CliRun run = run_cli({"system", "list", "--format", "json"});
  ASSERT_EQ(run.status, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j.size(), system_ids(systems_dir()).size());
  for (const auto& s : j) EXPECT_TRUE(s.contains("id"));
}

TEST(SystemCli, BadSystemFileIsOneLineAndStatusTwo) {
  ScratchDir dir;
  YAML::Node y = YAML::LoadFile((systems_dir() / "dgx-h100-superpod.yaml").string());
  y["scale_up"]["topology"] = "mesh";
  const fs::path file = dir.path() / "bad.yaml";
  write_text(file, YAML::Dump(y));
  const CliRun run = run_cli({"system", "show", file.string()});
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(run.err, "xpusim: " + file.string() +
                         ": scale_up.topology: unknown topology 'mesh'; expected switched, torus "
                         "or ring\n");
}

}  // namespace
}  // namespace xpusim

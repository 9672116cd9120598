// The one place that reads accelerator YAML (format: data/hardware/README.md).

#include <fmt/format.h>

#include "xpusim/core/error.hpp"
#include "xpusim/core/figures.hpp"
#include "xpusim/core/yaml_map.hpp"
#include "xpusim/hw/catalog.hpp"

namespace xpusim {

namespace {

/// A price figure: the usual keys plus `date` and, when `kind` is given, `kind`.
double read_price(FigureReader& figures, YamlMap& figure, const std::string& key_path,
                  std::string& date, std::string* kind) {
  date = figure.required_string("date");
  std::vector<std::string> extra = {"date"};
  if (kind != nullptr) {
    *kind = figure.required_string("kind");
    if (*kind != "list" && *kind != "street_estimate") {
      figure.fail("kind", fmt::format("expected list or street_estimate, got '{}'", *kind));
    }
    extra.push_back("kind");
  }
  return figures.read(figure, key_path, extra);
}

void read_compute(YamlMap& root, FigureReader& figures, AcceleratorSpec& spec) {
  YamlMap compute = root.required_map("compute");
  YamlMap peaks = compute.required_map("peak_dense_flops_per_s");
  std::vector<std::string> dtype_names;
  for (DType dtype : kAllDTypes) {
    const std::string name(to_string(dtype));
    if (dtype == DType::kInt4) continue;  // weight-only storage format, never a compute type here
    dtype_names.push_back(name);
    if (auto value = figures.optional(peaks, name)) {
      spec.peak_dense_flops_per_s[index_of(dtype)] = FlopsPerSecond(*value);
    }
  }
  peaks.finish(dtype_names);
  if (!spec.peak(DType::kBf16))
    peaks.fail("bf16", "missing (required: every chip needs a bf16 or fp16 peak)");
  spec.vector_flops_per_s = FlopsPerSecond(figures.required(compute, "vector_flops_per_s"));
  spec.compute_units = figures.required_count(compute, "compute_units");
  if (compute.has("matrix_units"))
    spec.matrix_units = figures.required_count(compute, "matrix_units");
  spec.clock_hz = figures.optional(compute, "clock_hz");
  spec.matmul_tile_m = figures.required_count(compute, "matmul_tile_m");
  spec.matmul_tile_n = figures.required_count(compute, "matmul_tile_n");
  compute.finish({"peak_dense_flops_per_s", "vector_flops_per_s", "compute_units", "matrix_units",
                  "clock_hz", "matmul_tile_m", "matmul_tile_n"});
}

void read_memory(YamlMap& root, FigureReader& figures, AcceleratorSpec& spec) {
  YamlMap memory = root.required_map("memory");
  spec.memory_capacity = Bytes(figures.required(memory, "capacity_bytes"));
  spec.memory_bandwidth = BytesPerSecond(figures.required(memory, "bandwidth_bytes_per_s"));
  if (auto sram = figures.optional(memory, "onchip_sram_bytes")) spec.onchip_sram = Bytes(*sram);
  memory.finish({"capacity_bytes", "bandwidth_bytes_per_s", "onchip_sram_bytes"});
}

void read_fabrics(YamlMap& root, FigureReader& figures, AcceleratorSpec& spec) {
  YamlMap up = root.required_map("scale_up");
  spec.scale_up_bandwidth = BytesPerSecond(figures.required(up, "bandwidth_bytes_per_s"));
  spec.scale_up_domain_devices = figures.required_count(up, "domain_devices");
  spec.scale_up_latency = Seconds(figures.required(up, "latency_s"));
  up.finish({"bandwidth_bytes_per_s", "domain_devices", "latency_s"});
  if (auto out = root.optional_map("scale_out")) {
    spec.scale_out_bandwidth = BytesPerSecond(figures.required(*out, "bandwidth_bytes_per_s"));
    out->finish({"bandwidth_bytes_per_s"});
  }
  if (auto host = root.optional_map("host_link")) {
    spec.host_link_bandwidth = BytesPerSecond(figures.required(*host, "bandwidth_bytes_per_s"));
    host->finish({"bandwidth_bytes_per_s"});
  }
}

void read_power_and_price(YamlMap& root, FigureReader& figures, AcceleratorSpec& spec) {
  YamlMap power = root.required_map("power");
  spec.tdp = Watts(figures.required(power, "tdp_w"));
  power.finish({"tdp_w"});
  auto price = root.optional_map("price");
  if (!price) return;
  if (auto purchase = price->optional_map("purchase_usd")) {
    PurchasePrice p;
    p.amount =
        Usd(read_price(figures, *purchase, price->key_path("purchase_usd"), p.date, &p.kind));
    spec.purchase_price = p;
  }
  if (auto cloud = price->optional_map("cloud_usd_per_hour")) {
    CloudPrice c;
    c.per_device = UsdPerHour(
        read_price(figures, *cloud, price->key_path("cloud_usd_per_hour"), c.date, nullptr));
    spec.cloud_price = c;
  }
  price->finish({"purchase_usd", "cloud_usd_per_hour"});
}

void read_gemm_fractions(YamlMap& eff, FigureReader& figures, Efficiency& e) {
  YamlMap gemm = eff.required_map("gemm_fraction_of_peak");
  std::vector<std::string> names;
  for (GemmKind kind : kAllGemmKinds) {
    const std::string name(to_string(kind));
    names.push_back(name);
    if (gemm.has(name))
      e.gemm_fraction_of_peak[index_of(kind)] = figures.required_fraction(gemm, name);
  }
  gemm.finish(names);
  if (!e.gemm_fraction_of_peak[index_of(GemmKind::kBf16)])
    gemm.fail("bf16",
              "missing (required: every chip needs a measured or estimated bf16 GEMM share)");
}

void read_attention_fractions(YamlMap& eff, FigureReader& figures, Efficiency& e) {
  YamlMap attention = eff.required_map("attention_fraction_of_peak");
  std::vector<std::string> names;
  for (AttentionKernel kernel : kAllAttentionKernels) {
    if (kernel == AttentionKernel::kUnfused) continue;  // priced from its GEMMs
    for (bool backward : {false, true}) {
      const std::string name =
          fmt::format("{}_{}", to_string(kernel), backward ? "backward" : "forward");
      names.push_back(name);
      if (!attention.has(name)) continue;
      auto& table = backward ? e.attention_backward_fraction : e.attention_forward_fraction;
      table[index_of(kernel)] = figures.required_fraction(attention, name);
    }
  }
  attention.finish(names);
  for (AttentionKernel kernel : kAllAttentionKernels) {
    const bool forward = e.attention_forward_fraction[index_of(kernel)].has_value();
    const bool backward = e.attention_backward_fraction[index_of(kernel)].has_value();
    if (forward != backward) {
      attention.fail(fmt::format("{}_{}", to_string(kernel), forward ? "backward" : "forward"),
                     "missing (a kernel needs both its forward and its backward figure)");
    }
  }
  if (e.best_attention_kernel() == AttentionKernel::kUnfused)
    eff.fail("attention_fraction_of_peak",
             "expected at least one fused kernel's forward and backward figures");
}

void read_efficiency(YamlMap& root, FigureReader& figures, AcceleratorSpec& spec) {
  YamlMap eff = root.required_map("efficiency");
  Efficiency& e = spec.efficiency;
  read_gemm_fractions(eff, figures, e);
  read_attention_fractions(eff, figures, e);
  e.attention_overhead_tokens = figures.required(eff, "attention_overhead_tokens");
  e.memory_bandwidth_fraction = figures.required_fraction(eff, "memory_bandwidth_fraction");
  e.kernel_overhead = Seconds(figures.required(eff, "kernel_overhead_s"));
  e.matmul_fixed_time = Seconds(figures.required(eff, "matmul_fixed_time_s"));
  e.scale_up_bandwidth_fraction = figures.required_fraction(eff, "scale_up_bandwidth_fraction");
  e.compute_memory_overlap_fraction =
      figures.required_fraction(eff, "compute_memory_overlap_fraction");
  e.scale_up_bus_bandwidth_curve =
      read_bus_bandwidth_curve(eff, "scale_up_bus_bandwidth_curve", figures);
  eff.finish({"gemm_fraction_of_peak", "attention_fraction_of_peak", "attention_overhead_tokens",
              "memory_bandwidth_fraction", "kernel_overhead_s", "matmul_fixed_time_s",
              "scale_up_bandwidth_fraction", "compute_memory_overlap_fraction",
              "scale_up_bus_bandwidth_curve"});
}

/// Every figure's plausible range (data/hardware/README.md, "Bounds"): a decade or more past
/// the catalog's extremes on each side, so a new chip fits and a unit mistake (GB for bytes,
/// microseconds for seconds) does not.
const std::vector<FigureRange>& accelerator_ranges() {
  static const std::vector<FigureRange> ranges = {
      {"compute.peak_dense_flops_per_s.*", 1e11, 1e18, "FLOP/s"},
      {"compute.vector_flops_per_s", 1e10, 1e17, "FLOP/s"},
      {"compute.compute_units", 1, 1e5, "units"},
      {"compute.matrix_units", 1, 1e6, "units"},
      {"compute.clock_hz", 1e7, 1e11, "Hz"},
      {"compute.matmul_tile_m", 1, 65536, "elements"},
      {"compute.matmul_tile_n", 1, 65536, "elements"},
      {"memory.capacity_bytes", 1e8, 1e13, "bytes"},
      {"memory.bandwidth_bytes_per_s", 1e9, 1e15, "bytes/s"},
      {"memory.onchip_sram_bytes", 1e4, 1e12, "bytes"},
      {"scale_up.bandwidth_bytes_per_s", 1e8, 1e14, "bytes/s"},
      {"scale_up.domain_devices", 1, 1e5, "devices"},
      {"scale_up.latency_s", 1e-8, 1e-2, "s"},
      {"scale_out.bandwidth_bytes_per_s", 1e7, 1e13, "bytes/s"},
      {"host_link.bandwidth_bytes_per_s", 1e8, 1e13, "bytes/s"},
      {"power.tdp_w", 1, 1e5, "W"},
      {"price.purchase_usd", 10, 1e8, "USD"},
      {"price.cloud_usd_per_hour", 1e-3, 1e4, "USD/hour"},
      {"efficiency.gemm_fraction_of_peak.*", 0.01, 1, "of peak"},
      {"efficiency.attention_fraction_of_peak.*", 0.01, 1, "of peak"},
      {"efficiency.attention_overhead_tokens", 1e-3, 1e7, "tokens"},
      {"efficiency.memory_bandwidth_fraction", 0.01, 1, "of peak"},
      {"efficiency.kernel_overhead_s", 1e-9, 1e-2, "s"},
      {"efficiency.matmul_fixed_time_s", 1e-9, 1e-2, "s"},
      {"efficiency.scale_up_bandwidth_fraction", 0.01, 1, "of peak"},
      {"efficiency.compute_memory_overlap_fraction", 0.01, 1, "(share)"},
      {"efficiency.scale_up_bus_bandwidth_curve.ranks", 2, 1e5, "ranks"},
      {"efficiency.scale_up_bus_bandwidth_curve.points[]", 1e-4, 1, "(share)"},
  };
  return ranges;
}

}  // namespace

namespace {

AcceleratorSpec read_accelerator(YamlMap root, const std::filesystem::path& file) {
  AcceleratorSpec spec;
  spec.file = file;
  spec.id = root.required_string("id");
  if (spec.id != file.stem().string() && file.stem().string() != "") {
    // A catalog file must be named after its id so that lookups by id find it.
    if (std::filesystem::path(file).parent_path().filename() == "hardware") {
      root.fail("id", fmt::format("expected '{}' (the file name), got '{}'", file.stem().string(),
                                  spec.id));
    }
  }
  spec.name = root.required_string("name");
  spec.vendor = root.required_string("vendor");
  spec.architecture = root.optional_string("architecture").value_or("");
  const long long year = root.required_integer("launch_year");
  if (year < 1990 || year > 2100)
    root.fail("launch_year", fmt::format("expected a year from 1990 to 2100, got {}", year));
  spec.launch_year = static_cast<int>(year);
  spec.sources = read_sources(root);
  FigureReader figures(spec.sources, spec.figures);
  read_compute(root, figures, spec);
  read_memory(root, figures, spec);
  read_fabrics(root, figures, spec);
  read_power_and_price(root, figures, spec);
  read_efficiency(root, figures, spec);
  root.finish({"id", "name", "vendor", "architecture", "launch_year", "sources", "compute",
               "memory", "scale_up", "scale_out", "host_link", "power", "price", "efficiency"});
  check_figure_ranges(root.file(), spec.figures, accelerator_ranges());
  return spec;
}

}  // namespace

AcceleratorSpec load_accelerator_file(const std::filesystem::path& file) {
  return read_accelerator(YamlMap::load_file(file), file);
}

AcceleratorSpec parse_accelerator_text(const std::string& text, const std::filesystem::path& name) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(Error::Kind::kInput, fmt::format("{}: {}", name.string(), e.what()));
  }
  if (!node.IsMap())
    throw Error(Error::Kind::kInput, fmt::format("{}: expected a mapping", name.string()));
  return read_accelerator(YamlMap(node, name.string(), ""), name);
}

}  // namespace xpusim

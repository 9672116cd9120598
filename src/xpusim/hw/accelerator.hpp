#pragma once
// An accelerator as the cost model sees it: peaks, memory, fabrics, power, price, and the
// calibration (achievable fractions, per-kernel overhead) measured from kernel-level evidence.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/core/bus_bandwidth_curve.hpp"
#include "xpusim/core/dtype.hpp"
#include "xpusim/core/figures.hpp"
#include "xpusim/core/units.hpp"

namespace xpusim {

struct PurchasePrice {
  Usd amount;
  std::string kind;  ///< "list" or "street_estimate"
  std::string date;
};

struct CloudPrice {
  UsdPerHour per_device;  ///< on-demand, per device-hour
  std::string date;
};

/// Calibration of the roofline against measured kernels (see docs/model.md, section 6).
struct Efficiency {
  /// Achieved / dense peak of large GEMMs, per kernel family; nullopt where not measured (the
  /// family then takes the share of its `fallback`). bf16 is always present.
  std::array<std::optional<double>, kGemmKindCount> gemm_fraction_of_peak{};
  /// Fused attention forward and backward rate / bf16 dense peak, per kernel the chip runs.
  std::array<std::optional<double>, kAttentionKernelCount> attention_forward_fraction{};
  std::array<std::optional<double>, kAttentionKernelCount> attention_backward_fraction{};
  /// Per-sequence fixed work of a fused attention kernel in key/value tokens: the rate at
  /// sequence length s is fraction x s / (s + overhead) (fitted on a FlashAttention sweep).
  double attention_overhead_tokens = 0.0;
  double memory_bandwidth_fraction = 0.0;
  Seconds kernel_overhead;    ///< launch/boundary cost of every kernel
  Seconds matmul_fixed_time;  ///< pipeline fill and drain inside each matrix-multiply or attention
                              ///< kernel
  /// Large-message all-reduce bus bandwidth / per-direction scale-up bandwidth (ring, nccl-tests).
  double scale_up_bandwidth_fraction = 0.0;
  /// How the bus bandwidth falls below its large-message value for smaller messages.
  BusBandwidthCurve scale_up_bus_bandwidth_curve;
  /// Share of the shorter of a kernel's compute and memory time hidden under the longer:
  /// time = max(c, m) + (1 - overlap) min(c, m) + kernel_overhead.
  double compute_memory_overlap_fraction = 1.0;

  /// Share of peak of `kind`, following the fallback chain to the nearest measured family.
  [[nodiscard]] double gemm_fraction(GemmKind kind) const {
    for (std::optional<GemmKind> k = kind; k; k = fallback(*k)) {
      if (auto f = gemm_fraction_of_peak[index_of(*k)]) return *f;
    }
    return 0.0;  // unreachable for a parsed chip: bf16 is required
  }
  /// Share of bf16 peak of `kernel` forward or backward, or nullopt when the chip has no figure.
  [[nodiscard]] std::optional<double> attention_fraction(AttentionKernel kernel,
                                                         bool backward) const {
    return (backward ? attention_backward_fraction : attention_forward_fraction)[index_of(kernel)];
  }
  /// The fused kernel with the highest forward rate on this chip.
  [[nodiscard]] AttentionKernel best_attention_kernel() const {
    AttentionKernel best = AttentionKernel::kUnfused;
    double rate = 0.0;
    for (AttentionKernel k : kAllAttentionKernels) {
      if (auto f = attention_forward_fraction[index_of(k)]; f && *f > rate) {
        best = k;
        rate = *f;
      }
    }
    return best;
  }
};

struct AcceleratorSpec {
  std::string id;
  std::string name;
  std::string vendor;
  std::string architecture;
  int launch_year = 0;

  /// Dense matrix-unit peak per data type; nullopt where the chip does not compute in it.
  std::array<std::optional<FlopsPerSecond>, kDTypeCount> peak_dense_flops_per_s{};
  FlopsPerSecond vector_flops_per_s;  ///< non-matrix fp32
  int compute_units = 0;
  std::optional<int> matrix_units;
  std::optional<double> clock_hz;
  int matmul_tile_m = 0;
  int matmul_tile_n = 0;

  Bytes memory_capacity;
  BytesPerSecond memory_bandwidth;
  std::optional<Bytes> onchip_sram;

  BytesPerSecond scale_up_bandwidth;  ///< per device, per direction
  int scale_up_domain_devices = 0;
  Seconds scale_up_latency;
  std::optional<BytesPerSecond> scale_out_bandwidth;  ///< per device, per direction
  /// To host memory (PCIe, NVLink-C2C), per device, per direction; used by CPU offload.
  std::optional<BytesPerSecond> host_link_bandwidth;

  Watts tdp;
  std::optional<PurchasePrice> purchase_price;
  std::optional<CloudPrice> cloud_price;
  Efficiency efficiency;

  std::vector<Source> sources;
  std::vector<Figure> figures;  ///< every number above, with its provenance
  std::filesystem::path file;   ///< where it was read from

  /// Dense peak for `dtype`, or nullopt when the matrix units do not compute in it.
  [[nodiscard]] std::optional<FlopsPerSecond> peak(DType dtype) const {
    return peak_dense_flops_per_s[index_of(dtype)];
  }
};

}  // namespace xpusim
